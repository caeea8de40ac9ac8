#include "tools/loadgen/workload.h"

#include <gtest/gtest.h>

#include <cmath>

namespace r1serve::loadgen {
namespace {

TEST(ParseLengthRangeTest, ExactAndRange) {
  LengthRange r = *ParseLengthRange("512", "--prompt_tokens");
  EXPECT_EQ(r.min, 512u);
  EXPECT_EQ(r.max, 512u);
  r = *ParseLengthRange(" 128-1024 ", "--prompt_tokens");
  EXPECT_EQ(r.min, 128u);
  EXPECT_EQ(r.max, 1024u);
}

TEST(ParseLengthRangeTest, RejectsNonsense) {
  for (const char* bad : {"", "0", "-5", "10-5", "a", "1-2-3", "5-"}) {
    absl::StatusOr<LengthRange> r = ParseLengthRange(bad, "--output_tokens");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--output_tokens"), std::string::npos);
  }
}

TEST(WorkloadTest, FixedLengthsAreExact) {
  Workload w = *Workload::FromLengths("100", "7");
  std::mt19937_64 rng(1);
  for (int i = 0; i < 50; ++i) {
    RequestShape s = w.Draw(rng);
    EXPECT_EQ(s.prompt_tokens, 100u);
    EXPECT_EQ(s.output_tokens, 7u);
  }
}

TEST(WorkloadTest, RangesStayInsideAndCoverBothEnds) {
  Workload w = *Workload::FromLengths("10-12", "1-2");
  std::mt19937_64 rng(2);
  bool saw_min = false, saw_max = false;
  for (int i = 0; i < 500; ++i) {
    RequestShape s = w.Draw(rng);
    EXPECT_GE(s.prompt_tokens, 10u);
    EXPECT_LE(s.prompt_tokens, 12u);
    saw_min |= s.prompt_tokens == 10;
    saw_max |= s.prompt_tokens == 12;
  }
  EXPECT_TRUE(saw_min && saw_max);
}

TEST(WorkloadTest, MixtureFollowsItsWeights) {
  Workload w = *Workload::FromMix("3:64/256, 1:2048/16");
  ASSERT_EQ(w.components().size(), 2u);
  EXPECT_DOUBLE_EQ(w.components()[0].weight, 0.75);
  std::mt19937_64 rng(3);
  int long_prompts = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    RequestShape s = w.Draw(rng);
    if (s.prompt_tokens == 2048) {
      EXPECT_EQ(s.output_tokens, 16u);
      ++long_prompts;
    } else {
      EXPECT_EQ(s.prompt_tokens, 64u);
      EXPECT_EQ(s.output_tokens, 256u);
    }
  }
  EXPECT_NEAR(long_prompts / double(n), 0.25, 0.02);
}

TEST(WorkloadTest, BadMixturesNameTheProblem) {
  for (const char* bad : {"", "0.5", "0.5:64", "x:1/2", "0:1/2", "-1:1/2", "1:1/0", "1:1/2,"}) {
    EXPECT_FALSE(Workload::FromMix(bad).ok()) << bad;
  }
}

TEST(ArrivalTest, PoissonGapsAverageOneOverRate) {
  std::mt19937_64 rng(4);
  double sum = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) sum += NextArrivalGap(4.0, rng);
  EXPECT_NEAR(sum / n, 0.25, 0.01);
}

TEST(RandomTokenIdsTest, InRange) {
  std::mt19937_64 rng(5);
  std::vector<int32_t> ids = RandomTokenIds(1000, 100, 110, rng);
  ASSERT_EQ(ids.size(), 1000u);
  for (int32_t id : ids) {
    EXPECT_GE(id, 100);
    EXPECT_LT(id, 110);
  }
}

}  // namespace
}  // namespace r1serve::loadgen
