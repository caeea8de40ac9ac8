#include "services/decode/kv_reservations.h"

#include <vector>

#include "gtest/gtest.h"

namespace r1serve::services {
namespace {

TEST(KvReservationsTest, StartsWhatFitsAndQueuesTheRestInOrder) {
  KvReservations r;
  r.SetAvailable(10);
  std::vector<int> started;
  const uint64_t a = r.Acquire(6, [&](uint64_t) { started.push_back(1); });
  const uint64_t b = r.Acquire(6, [&](uint64_t) { started.push_back(2); });  // 12 > 10: waits
  const uint64_t c = r.Acquire(2, [&](uint64_t) { started.push_back(3); });  // fits, but no skipping ahead
  EXPECT_EQ(started, std::vector<int>({1}));
  EXPECT_EQ(r.reserved_blocks(), 6);
  EXPECT_EQ(r.waiting(), 2u);
  r.Release(a);  // the import took its blocks
  EXPECT_EQ(started, std::vector<int>({1, 2, 3}));
  EXPECT_EQ(r.reserved_blocks(), 8);
  r.Release(b);
  r.Release(c);
  EXPECT_EQ(r.reserved_blocks(), 0);
}

TEST(KvReservationsTest, MoreFreeBlocksAdmitWaiters) {
  KvReservations r;
  r.SetAvailable(4);
  int started = 0;
  r.Acquire(3, [&](uint64_t) { ++started; });
  r.Acquire(3, [&](uint64_t) { ++started; });
  EXPECT_EQ(started, 1);
  r.SetAvailable(6);
  EXPECT_EQ(started, 2);
}

TEST(KvReservationsTest, ALargePromptRunsAloneRatherThanNever) {
  KvReservations r;
  r.SetAvailable(5);
  bool started = false;
  r.Acquire(50, [&](uint64_t) { started = true; });
  EXPECT_TRUE(started);
}

TEST(KvReservationsTest, CancelledWaitersNeverStart) {
  KvReservations r;
  r.SetAvailable(4);
  int started = 0;
  const uint64_t a = r.Acquire(4, [&](uint64_t) { ++started; });
  const uint64_t b = r.Acquire(4, [&](uint64_t) { started += 10; });
  r.Cancel(b);
  r.Release(a);
  EXPECT_EQ(started, 1);
  EXPECT_EQ(r.waiting(), 0u);
  EXPECT_EQ(r.reserved_blocks(), 0);
}

}  // namespace
}  // namespace r1serve::services
