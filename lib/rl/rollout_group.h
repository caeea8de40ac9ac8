// RolloutGroup: the bookkeeping of one prompt's group in a GRPO rollout with optional rejection
// sampling (gateway.proto Rollout): rounds of group_size samples come in with their rewards;
// it says whether another round is due (too few accepted, retries left), and at the end gives
// each sample its group-relative advantage, whether it was accepted and whether it is returned.
//
//   RolloutGroup group(/*group_size=*/4, AdvantageMode::kGrpoVerl, RejectionRule{.min_reward = 1});
//   while (group.AddRound(ScoreRound()) { }          // rewards of one round, nullopt = failed
//   for (const RolloutGroup::Outcome& o : group.Outcomes()) { ... }
//
// Pure arithmetic; the gateway does the generating and scoring.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "lib/rl/group_advantages.h"

namespace r1serve::rl {

struct RejectionRule {
  double min_reward = 0;     // accepted when total reward >= min_reward
  int min_accepted = 1;      // accepted samples wanted (values < 1 mean 1)
  int max_retries = 0;       // extra rounds while fewer were accepted
  bool include_rejected = false;
};

class RolloutGroup {
 public:
  RolloutGroup(int group_size, AdvantageMode mode, std::optional<RejectionRule> rejection);

  // Records the next round: exactly group_size rewards, in sample order (nullopt for a sample
  // that failed before scoring). Returns whether another round is due.
  bool AddRound(std::span<const std::optional<double>> rewards);

  struct Outcome {
    int index = 0;  // round * group_size + i
    double advantage = 0;
    bool accepted = true;
    bool returned = true;  // in the response (accepted, or include_rejected)
  };
  // Every sample of every round, in index order; advantages over all scored samples.
  std::vector<Outcome> Outcomes() const;

  GroupStatistics Statistics() const { return ComputeGroupStatistics(rewards_); }
  int rounds() const { return rounds_; }
  int num_generated() const { return static_cast<int>(rewards_.size()); }
  int num_accepted() const;
  int num_rejected() const { return rejection_.has_value() ? num_generated() - num_accepted() : 0; }

 private:
  bool Accepted(const std::optional<double>& reward) const;

  const int group_size_;
  const AdvantageMode mode_;
  const std::optional<RejectionRule> rejection_;
  std::vector<std::optional<double>> rewards_;
  int rounds_ = 0;
};

}  // namespace r1serve::rl
