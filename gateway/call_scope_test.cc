#include "gateway/call_scope.h"

#include <gtest/gtest.h>

namespace r1serve::gateway {
namespace {

TEST(CallScopeTest, ContextsCarryTheDeadline) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  CallScope scope("req-1", deadline);
  grpc::ClientContext* context = scope.NewContext();
  ASSERT_NE(context, nullptr);
  EXPECT_LE(absl::AbsDuration(absl::FromChrono(context->deadline()) - deadline),
            absl::Milliseconds(1));
  EXPECT_EQ(scope.request_id(), "req-1");
  EXPECT_FALSE(scope.expired());
}

TEST(CallScopeTest, NoNewCallsOnceCancelled) {
  CallScope scope("req-2", absl::Now() + absl::Seconds(30));
  ASSERT_NE(scope.NewContext(), nullptr);
  EXPECT_FALSE(scope.cancelled());
  scope.Cancel();
  scope.Cancel();  // idempotent
  EXPECT_TRUE(scope.cancelled());
  EXPECT_EQ(scope.NewContext(), nullptr);
}

TEST(CallScopeTest, ExpiredOncePastTheDeadline) {
  CallScope scope("req-3", absl::Now() - absl::Seconds(1));
  EXPECT_TRUE(scope.expired());
}

}  // namespace
}  // namespace r1serve::gateway
