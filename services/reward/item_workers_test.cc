#include "services/reward/item_workers.h"

#include <gtest/gtest.h>

#include <atomic>

#include "absl/synchronization/notification.h"

namespace r1serve::services {
namespace {

TEST(ItemWorkersTest, ReservationsAreAllOrNothing) {
  ItemWorkers workers(/*threads=*/1, /*max_pending=*/4);
  EXPECT_TRUE(workers.TryReserve(3));
  EXPECT_FALSE(workers.TryReserve(2));  // only 1 left: nothing is taken
  EXPECT_TRUE(workers.TryReserve(1));
  EXPECT_FALSE(workers.TryReserve(1));
  absl::Notification release;
  std::atomic<int> ran{0};
  for (int i = 0; i < 4; ++i) {
    workers.Run([&] {
      release.WaitForNotification();
      ++ran;
    });
  }
  release.Notify();
  // Slots come back as tasks finish.
  while (!workers.TryReserve(4)) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(ran.load(), 4);
  for (int i = 0; i < 4; ++i) workers.Run([&] { ++ran; });
}

TEST(ItemWorkersTest, DestructionRunsWhatIsQueued) {
  std::atomic<int> ran{0};
  {
    ItemWorkers workers(/*threads=*/2, /*max_pending=*/16);
    ASSERT_TRUE(workers.TryReserve(16));
    for (int i = 0; i < 16; ++i) workers.Run([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 16);
}

}  // namespace
}  // namespace r1serve::services
