#include "gateway/instance_health.h"

#include <utility>

namespace r1serve::gateway {

absl::string_view HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kUnknown:
      return "unknown";
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kUnhealthy:
      return "unhealthy";
  }
  return "?";
}

bool InstanceHealth::OnProbeSuccess(bool draining) {
  const bool before = routable();
  consecutive_failures_ = 0;
  ++consecutive_successes_;
  draining_ = draining;
  if (state_ == HealthState::kUnknown ||
      (state_ == HealthState::kUnhealthy &&
       consecutive_successes_ >= options_.successes_to_healthy)) {
    state_ = HealthState::kHealthy;
  }
  return before != routable();
}

bool InstanceHealth::OnProbeFailure(std::string reason) { return Failure(std::move(reason), 1); }

bool InstanceHealth::OnCallUnreachable(std::string reason) {
  // A call that could not connect is as telling as a whole run of lost probes.
  return Failure(std::move(reason), options_.failures_to_unhealthy);
}

bool InstanceHealth::Failure(std::string reason, int weight) {
  const bool before = routable();
  last_error_ = std::move(reason);
  consecutive_successes_ = 0;
  consecutive_failures_ += weight;
  if (consecutive_failures_ >= options_.failures_to_unhealthy) state_ = HealthState::kUnhealthy;
  return before != routable();
}

}  // namespace r1serve::gateway
