// RewardScorer: scores one RewardItem with the components of its effective spec and combines
// them, total = sum of weight * component reward. The same code serves the reward service and
// the offline r1serve-score tool. Thread-safe: Score may run on many threads at once.
//
//   RewardScorer scorer(RewardConfig{});
//   RewardResult result = scorer.Score(item, /*call_deadline=*/absl::Now() + absl::Seconds(60));
//   // result.verdict, result.total_reward, result.components[i].reason, result.config_hash
//
// Rules (reward.proto is the contract):
// - The item is checked whole before any component runs (spec, reference answer, code tests,
//   target language); a malformed item gets INVALID_ARGUMENT in result.error, verdict kError,
//   total 0, and affects nothing else.
// - The item's deadline is min(start + its timeout (or the default), call_deadline). A
//   component that runs past it, or starts after it, scores 0 with a reason saying so, and the
//   verdict is kTimeout: a timeout is never a silent 0.
// - The verdict and extracted_answer come from the first correctness component (MATH_ANSWER or
//   CODE_TESTS) in spec order; kUnspecified when the spec has none.
// - A verifier that fails (the sandbox breaks, an exception) gives the item an error, verdict
//   kError and total 0.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/verify/reward_config.h"
#include "lib/verify/reward_types.h"

namespace r1serve::verify {

class RewardScorer {
 public:
  explicit RewardScorer(RewardConfig config);

  RewardResult Score(const RewardItem& item,
                     absl::Time call_deadline = absl::InfiniteFuture()) const;

  // The result of an item that could not be scored at all (e.g. it could not be read): verdict
  // kError, the version and the configuration's hash filled in.
  RewardResult ErrorResult(std::string id, absl::Status error) const;

  const RewardConfig& config() const { return config_; }
  // Hash of the configuration alone (RewardInfoResponse.config_hash).
  const std::string& config_hash() const { return config_hash_; }

 private:
  // Fills `result` (whose id, version and hash are set); an error status makes it an error result.
  absl::Status ScoreInto(const RewardItem& item, absl::Time deadline, RewardResult& result) const;

  const RewardConfig config_;
  const std::string config_hash_;
  const std::string config_json_text_;  // ConfigJsonText(config_), hashed with every item's spec
};

}  // namespace r1serve::verify
