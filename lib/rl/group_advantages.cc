#include "lib/rl/group_advantages.h"

#include <cmath>

namespace r1serve::rl {

GroupStatistics ComputeGroupStatistics(std::span<const std::optional<double>> rewards) {
  GroupStatistics s;
  double sum = 0;
  for (const std::optional<double>& r : rewards) {
    if (!r.has_value()) continue;
    ++s.num_scored;
    sum += *r;
  }
  if (s.num_scored == 0) return s;
  s.mean = sum / s.num_scored;
  double squares = 0;
  bool all_equal = true;
  std::optional<double> first;
  for (const std::optional<double>& r : rewards) {
    if (!r.has_value()) continue;
    squares += (*r - s.mean) * (*r - s.mean);
    if (!first.has_value()) first = *r;
    all_equal = all_equal && *r == *first;
  }
  s.std = s.num_scored > 1 ? std::sqrt(squares / (s.num_scored - 1)) : 0.0;
  s.zero_variance = all_equal;
  return s;
}

std::vector<double> GroupAdvantages(std::span<const std::optional<double>> rewards,
                                    AdvantageMode mode) {
  const GroupStatistics s = ComputeGroupStatistics(rewards);
  std::vector<double> advantages(rewards.size(), 0.0);
  for (size_t i = 0; i < rewards.size(); ++i) {
    if (!rewards[i].has_value()) continue;
    const double r = *rewards[i];
    switch (mode) {
      case AdvantageMode::kGrpoVerl:
        // verl scores a lone sample against mean 0 and std 1.
        advantages[i] = s.num_scored == 1 ? r / (1.0 + 1e-6) : (r - s.mean) / (s.std + 1e-6);
        break;
      case AdvantageMode::kGrpoTrl:
        advantages[i] = s.num_scored == 1 ? 0.0 : (r - s.mean) / (s.std + 1e-4);
        break;
      case AdvantageMode::kDrGrpo:
        advantages[i] = r - s.mean;
        break;
    }
  }
  return advantages;
}

}  // namespace r1serve::rl
