#include "lib/rl/rollout_group.h"

#include <algorithm>

namespace r1serve::rl {

RolloutGroup::RolloutGroup(int group_size, AdvantageMode mode,
                           std::optional<RejectionRule> rejection)
    : group_size_(std::max(group_size, 1)), mode_(mode), rejection_(rejection) {}

bool RolloutGroup::Accepted(const std::optional<double>& reward) const {
  if (!rejection_.has_value()) return true;
  return reward.has_value() && *reward >= rejection_->min_reward;
}

int RolloutGroup::num_accepted() const {
  int n = 0;
  for (const std::optional<double>& r : rewards_) n += Accepted(r) ? 1 : 0;
  return n;
}

bool RolloutGroup::AddRound(std::span<const std::optional<double>> rewards) {
  rewards_.insert(rewards_.end(), rewards.begin(), rewards.end());
  ++rounds_;
  if (!rejection_.has_value()) return false;
  const int wanted = std::max(rejection_->min_accepted, 1);
  return num_accepted() < wanted && rounds_ < 1 + std::max(rejection_->max_retries, 0);
}

std::vector<RolloutGroup::Outcome> RolloutGroup::Outcomes() const {
  const std::vector<double> advantages = GroupAdvantages(rewards_, mode_);
  std::vector<Outcome> outcomes;
  for (size_t i = 0; i < rewards_.size(); ++i) {
    Outcome o;
    o.index = static_cast<int>(i);
    o.advantage = advantages[i];
    o.accepted = Accepted(rewards_[i]);
    o.returned = o.accepted || !rejection_.has_value() || rejection_->include_rejected;
    outcomes.push_back(o);
  }
  return outcomes;
}

}  // namespace r1serve::rl
