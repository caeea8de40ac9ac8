#include "lib/rl/rollout_group.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace r1serve::rl {
namespace {

using Rewards = std::vector<std::optional<double>>;

TEST(RolloutGroupTest, WithoutRejectionOneRoundEverythingReturned) {
  RolloutGroup group(4, AdvantageMode::kGrpoVerl, std::nullopt);
  EXPECT_FALSE(group.AddRound(Rewards{1, 0, 0, 1}));
  const auto outcomes = group.Outcomes();
  ASSERT_EQ(outcomes.size(), 4u);
  double sum = 0;
  for (const auto& o : outcomes) {
    EXPECT_TRUE(o.accepted);
    EXPECT_TRUE(o.returned);
    sum += o.advantage;
  }
  EXPECT_NEAR(sum, 0, 1e-12);
  EXPECT_EQ(group.num_rejected(), 0);
}

TEST(RolloutGroupTest, RetriesUntilEnoughAcceptedThenStops) {
  RolloutGroup group(2, AdvantageMode::kDrGrpo,
                     RejectionRule{.min_reward = 1, .min_accepted = 2, .max_retries = 5});
  EXPECT_TRUE(group.AddRound(Rewards{0, 1}));   // 1 accepted of 2 wanted
  EXPECT_FALSE(group.AddRound(Rewards{1, 0}));  // 2: done
  EXPECT_EQ(group.rounds(), 2);
  const auto outcomes = group.Outcomes();
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[2].index, 2);
  EXPECT_FALSE(outcomes[0].returned);
  EXPECT_TRUE(outcomes[1].returned && outcomes[1].accepted);
  EXPECT_DOUBLE_EQ(outcomes[1].advantage, 0.5);  // over all rounds: mean 0.5
  EXPECT_EQ(group.num_rejected(), 2);
  EXPECT_EQ(group.Statistics().num_scored, 4);
}

TEST(RolloutGroupTest, GivesUpAfterMaxRetries) {
  RolloutGroup group(2, AdvantageMode::kGrpoVerl,
                     RejectionRule{.min_reward = 1, .max_retries = 1, .include_rejected = true});
  EXPECT_TRUE(group.AddRound(Rewards{0, std::nullopt}));
  EXPECT_FALSE(group.AddRound(Rewards{0, 0}));
  for (const auto& o : group.Outcomes()) {
    EXPECT_FALSE(o.accepted);
    EXPECT_TRUE(o.returned);  // include_rejected
  }
  EXPECT_EQ(group.Statistics().num_scored, 3);
  EXPECT_TRUE(group.Statistics().zero_variance);
}

}  // namespace
}  // namespace r1serve::rl
