// The health state machine of one engine instance, fed by the gateway's periodic Load probes
// and by calls that fail to reach it:
//
//   kUnknown --probe ok--> kHealthy --failures_to_unhealthy failures in a row--> kUnhealthy
//   kUnknown --failures_to_unhealthy failures--> kUnhealthy --successes_to_healthy oks--> kHealthy
//
// An instance is routable when healthy and not draining (a draining instance answers its
// probes but refuses new calls). Pure: no clock, no sockets (instance_health_test.cc).
//
//   InstanceHealth health(HealthOptions{});
//   if (health.OnProbeSuccess(/*draining=*/false)) log("back");   // true: routability changed
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace r1serve::gateway {

struct HealthOptions {
  int failures_to_unhealthy = 2;  // one lost probe is noise; two in a row is an outage
  int successes_to_healthy = 1;
};

enum class HealthState { kUnknown, kHealthy, kUnhealthy };
absl::string_view HealthStateName(HealthState state);

class InstanceHealth {
 public:
  explicit InstanceHealth(HealthOptions options) : options_(options) {}

  // Each returns true when routable() changed.
  bool OnProbeSuccess(bool draining);
  bool OnProbeFailure(std::string reason);
  // A call could not reach the instance (UNAVAILABLE before anything came back): it counts as
  // a failed probe so that no more requests go there until a probe says it is back.
  bool OnCallUnreachable(std::string reason);

  HealthState state() const { return state_; }
  bool draining() const { return draining_; }
  bool routable() const { return state_ == HealthState::kHealthy && !draining_; }
  const std::string& last_error() const { return last_error_; }

 private:
  bool Failure(std::string reason, int weight);

  HealthOptions options_;
  HealthState state_ = HealthState::kUnknown;
  bool draining_ = false;
  int consecutive_failures_ = 0;
  int consecutive_successes_ = 0;
  std::string last_error_;
};

}  // namespace r1serve::gateway
