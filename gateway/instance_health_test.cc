#include "gateway/instance_health.h"

#include <gtest/gtest.h>

namespace r1serve::gateway {
namespace {

TEST(InstanceHealthTest, UnknownUntilTheFirstProbe) {
  InstanceHealth health(HealthOptions{});
  EXPECT_EQ(health.state(), HealthState::kUnknown);
  EXPECT_FALSE(health.routable());
  EXPECT_TRUE(health.OnProbeSuccess(false));
  EXPECT_EQ(health.state(), HealthState::kHealthy);
  EXPECT_TRUE(health.routable());
}

TEST(InstanceHealthTest, OneLostProbeIsNoise) {
  InstanceHealth health(HealthOptions{.failures_to_unhealthy = 2});
  health.OnProbeSuccess(false);
  EXPECT_FALSE(health.OnProbeFailure("timeout"));
  EXPECT_TRUE(health.routable());
  EXPECT_FALSE(health.OnProbeSuccess(false));  // the count restarts
  EXPECT_FALSE(health.OnProbeFailure("timeout"));
  EXPECT_TRUE(health.routable());
  EXPECT_TRUE(health.OnProbeFailure("connection refused"));
  EXPECT_EQ(health.state(), HealthState::kUnhealthy);
  EXPECT_EQ(health.last_error(), "connection refused");
}

TEST(InstanceHealthTest, RecoversAfterEnoughSuccesses) {
  InstanceHealth health(HealthOptions{.failures_to_unhealthy = 1, .successes_to_healthy = 2});
  health.OnProbeSuccess(false);
  EXPECT_TRUE(health.OnProbeFailure("down"));
  EXPECT_FALSE(health.OnProbeSuccess(false));
  EXPECT_EQ(health.state(), HealthState::kUnhealthy);
  EXPECT_FALSE(health.OnProbeFailure("down"));  // resets the success count
  EXPECT_FALSE(health.OnProbeSuccess(false));
  EXPECT_TRUE(health.OnProbeSuccess(false));
  EXPECT_EQ(health.state(), HealthState::kHealthy);
}

TEST(InstanceHealthTest, NeverAnsweredGoesUnhealthy) {
  InstanceHealth health(HealthOptions{.failures_to_unhealthy = 2});
  EXPECT_FALSE(health.OnProbeFailure("refused"));
  EXPECT_EQ(health.state(), HealthState::kUnknown);
  EXPECT_FALSE(health.OnProbeFailure("refused"));  // was not routable before either
  EXPECT_EQ(health.state(), HealthState::kUnhealthy);
  EXPECT_TRUE(health.OnProbeSuccess(false));
}

TEST(InstanceHealthTest, DrainingAnswersButIsNotRoutable) {
  InstanceHealth health(HealthOptions{});
  health.OnProbeSuccess(false);
  EXPECT_TRUE(health.OnProbeSuccess(true));
  EXPECT_EQ(health.state(), HealthState::kHealthy);
  EXPECT_TRUE(health.draining());
  EXPECT_FALSE(health.routable());
  EXPECT_TRUE(health.OnProbeSuccess(false));
}

TEST(InstanceHealthTest, UnreachableCallTakesItOutAtOnce) {
  InstanceHealth health(HealthOptions{.failures_to_unhealthy = 3});
  health.OnProbeSuccess(false);
  EXPECT_TRUE(health.OnCallUnreachable("decode Generate: connection refused"));
  EXPECT_EQ(health.state(), HealthState::kUnhealthy);
  EXPECT_TRUE(health.OnProbeSuccess(false));
}

TEST(InstanceHealthTest, StateNames) {
  EXPECT_EQ(HealthStateName(HealthState::kUnknown), "unknown");
  EXPECT_EQ(HealthStateName(HealthState::kHealthy), "healthy");
  EXPECT_EQ(HealthStateName(HealthState::kUnhealthy), "unhealthy");
}

}  // namespace
}  // namespace r1serve::gateway
