// GRPO's group-relative advantages: each sample's reward measured against the other samples of
// its prompt group, A_i = (r_i - mean(r)) / (std(r) + eps), in the variants trainers use
// (gateway.proto AdvantageMode says which and why).
//
//   std::vector<std::optional<double>> rewards = {1, 0, 1, std::nullopt};  // a failed sample
//   GroupStatistics stats = ComputeGroupStatistics(rewards);
//   std::vector<double> advantages = GroupAdvantages(rewards, AdvantageMode::kGrpoVerl);
#pragma once

#include <optional>
#include <span>
#include <vector>

namespace r1serve::rl {

enum class AdvantageMode {
  kGrpoVerl,  // (r - mean) / (std + 1e-6); a group of one scored sample: mean 0, std 1
  kGrpoTrl,   // (r - mean) / (std + 1e-4); a group of one scored sample: 0
  kDrGrpo,    // r - mean (Dr. GRPO: no std scaling)
};

struct GroupStatistics {
  int num_scored = 0;  // samples with a reward
  double mean = 0;
  double std = 0;  // unbiased (n - 1), as torch.std; 0 for fewer than two samples
  // Every scored reward equal: the group teaches nothing (all advantages are 0).
  bool zero_variance = false;
};

// Over the samples that have a reward (nullopt: the sample failed and is left out).
GroupStatistics ComputeGroupStatistics(std::span<const std::optional<double>> rewards);

// One advantage per sample, 0 for a failed one.
std::vector<double> GroupAdvantages(std::span<const std::optional<double>> rewards,
                                    AdvantageMode mode);

}  // namespace r1serve::rl
