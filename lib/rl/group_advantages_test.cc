#include "lib/rl/group_advantages.h"

#include <cmath>
#include <numeric>
#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace r1serve::rl {
namespace {

using Rewards = std::vector<std::optional<double>>;

TEST(GroupAdvantagesTest, StatisticsAreTorchStyle) {
  const Rewards r = {1, 0, 1, 1};
  const GroupStatistics s = ComputeGroupStatistics(r);
  EXPECT_EQ(s.num_scored, 4);
  EXPECT_DOUBLE_EQ(s.mean, 0.75);
  EXPECT_NEAR(s.std, 0.5, 1e-12);  // torch.tensor([1., 0., 1., 1.]).std() == 0.5
  EXPECT_FALSE(s.zero_variance);
}

TEST(GroupAdvantagesTest, VerlAndTrlNormaliseByStdAndSumToZero) {
  const Rewards r = {1, 0, 1, 1};
  for (AdvantageMode mode : {AdvantageMode::kGrpoVerl, AdvantageMode::kGrpoTrl}) {
    const std::vector<double> a = GroupAdvantages(r, mode);
    const double eps = mode == AdvantageMode::kGrpoVerl ? 1e-6 : 1e-4;
    EXPECT_NEAR(a[0], 0.25 / (0.5 + eps), 1e-12);
    EXPECT_NEAR(a[1], -0.75 / (0.5 + eps), 1e-12);
    EXPECT_NEAR(std::accumulate(a.begin(), a.end(), 0.0), 0.0, 1e-12);
  }
}

TEST(GroupAdvantagesTest, DrGrpoOnlyCentres) {
  const std::vector<double> a = GroupAdvantages(Rewards{1, 0, 0, 0.5}, AdvantageMode::kDrGrpo);
  EXPECT_DOUBLE_EQ(a[0], 0.625);
  EXPECT_DOUBLE_EQ(a[1], -0.375);
  EXPECT_DOUBLE_EQ(a[3], 0.125);
}

TEST(GroupAdvantagesTest, FailedSamplesAreLeftOutAndGetZero) {
  const Rewards r = {1, std::nullopt, 0};
  const GroupStatistics s = ComputeGroupStatistics(r);
  EXPECT_EQ(s.num_scored, 2);
  EXPECT_DOUBLE_EQ(s.mean, 0.5);
  const std::vector<double> a = GroupAdvantages(r, AdvantageMode::kGrpoVerl);
  EXPECT_EQ(a[1], 0.0);
  EXPECT_NEAR(a[0], -a[2], 1e-12);
}

TEST(GroupAdvantagesTest, EqualRewardsTeachNothing) {
  const Rewards r = {1, 1, 1};
  EXPECT_TRUE(ComputeGroupStatistics(r).zero_variance);
  for (double a : GroupAdvantages(r, AdvantageMode::kGrpoVerl)) EXPECT_EQ(a, 0.0);
}

TEST(GroupAdvantagesTest, ALoneSampleFollowsEachTrainer) {
  const Rewards r = {0.8};
  EXPECT_NEAR(GroupAdvantages(r, AdvantageMode::kGrpoVerl)[0], 0.8 / (1 + 1e-6), 1e-12);
  EXPECT_EQ(GroupAdvantages(r, AdvantageMode::kGrpoTrl)[0], 0.0);
  EXPECT_EQ(GroupAdvantages(r, AdvantageMode::kDrGrpo)[0], 0.0);
  EXPECT_EQ(ComputeGroupStatistics(r).std, 0.0);
}

}  // namespace
}  // namespace r1serve::rl
