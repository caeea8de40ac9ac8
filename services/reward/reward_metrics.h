// The reward service's Prometheus metrics, on the ServiceHost's /metrics beside the call metrics:
//
//   r1serve_reward_scores{component}               histogram of component rewards in [0, 1]
//   r1serve_reward_verify_seconds                  histogram of time spent verifying one item
//   r1serve_reward_items_total{verdict}            items scored, by verdict ("correct", "error",
//   ...) r1serve_reward_sandbox_runs_total{outcome}     code runs: passed, failed, timeout, error
//
// Every label value exists from the start (at 0), so dashboards and rate() see the series
// before the first event.
//
//   RewardMetrics metrics(host.metrics_registry());
//   metrics.Observe(result);  // thread-safe
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>

#include "lib/verify/reward_types.h"

namespace r1serve::services {

class RewardMetrics {
 public:
  explicit RewardMetrics(prometheus::Registry& registry);

  void Observe(const verify::RewardResult& result);

 private:
  static constexpr size_t kComponents = 5;       // verify::RewardComponent values
  static constexpr size_t kVerdicts = 7;         // verify::Verdict values
  static constexpr size_t kSandboxOutcomes = 4;  // verify::SandboxOutcome values

  std::array<prometheus::Histogram*, kComponents> scores_{};
  prometheus::Histogram* verify_seconds_ = nullptr;
  std::array<prometheus::Counter*, kVerdicts> items_{};
  std::array<prometheus::Counter*, kSandboxOutcomes> sandbox_runs_{};
};

}  // namespace r1serve::services
