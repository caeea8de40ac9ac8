#include "services/reward/reward_metrics.h"

#include <prometheus/family.h>

#include "absl/time/time.h"

namespace r1serve::services {
namespace {

prometheus::Histogram::BucketBoundaries RewardBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (int i = 0; i <= 10; ++i) buckets.push_back(i / 10.0);
  return buckets;
}

// 100 us to about 100 s: format checks take microseconds, code runs seconds.
prometheus::Histogram::BucketBoundaries SecondsBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double b = 1e-4; b < 120; b *= 2.5) buckets.push_back(b);
  return buckets;
}

}  // namespace

RewardMetrics::RewardMetrics(prometheus::Registry& registry) {
  auto& scores = prometheus::BuildHistogram()
                     .Name("r1serve_reward_scores")
                     .Help("Component rewards of scored items, in [0, 1]")
                     .Register(registry);
  for (size_t i = 1; i < kComponents; ++i) {  // 0 is unspecified: never in a result
    const auto component = static_cast<verify::RewardComponent>(i);
    scores_[i] = &scores.Add({{"component", verify::ComponentName(component)}}, RewardBuckets());
  }
  verify_seconds_ = &prometheus::BuildHistogram()
                         .Name("r1serve_reward_verify_seconds")
                         .Help("Time spent verifying one item")
                         .Register(registry)
                         .Add({}, SecondsBuckets());
  auto& items = prometheus::BuildCounter()
                    .Name("r1serve_reward_items_total")
                    .Help("Items scored, by verdict")
                    .Register(registry);
  for (size_t i = 0; i < kVerdicts; ++i) {
    items_[i] = &items.Add({{"verdict", verify::VerdictName(static_cast<verify::Verdict>(i))}});
  }
  auto& runs = prometheus::BuildCounter()
                   .Name("r1serve_reward_sandbox_runs_total")
                   .Help("Code runs in the sandbox, by outcome")
                   .Register(registry);
  for (size_t i = 0; i < kSandboxOutcomes; ++i) {
    sandbox_runs_[i] = &runs.Add(
        {{"outcome", verify::SandboxOutcomeName(static_cast<verify::SandboxOutcome>(i))}});
  }
}

void RewardMetrics::Observe(const verify::RewardResult& result) {
  for (const verify::ComponentResult& component : result.components) {
    const auto index = static_cast<size_t>(component.component);
    if (index < kComponents && scores_[index] != nullptr) scores_[index]->Observe(component.reward);
  }
  verify_seconds_->Observe(absl::ToDoubleSeconds(result.verify_time));
  const auto verdict = static_cast<size_t>(result.verdict);
  if (verdict < kVerdicts) items_[verdict]->Increment();
  if (result.sandbox_outcome) {
    const auto outcome = static_cast<size_t>(*result.sandbox_outcome);
    if (outcome < kSandboxOutcomes) sandbox_runs_[outcome]->Increment();
  }
}

}  // namespace r1serve::services
