// SequenceSampler, one concern per test: each parameter's effect on hand-built logits (read off
// the processed distribution, which lists every kept token with its exact probability), greedy
// tie-break, seeds, draw frequencies, logprobs, masks and stops, errors, and the batch entry.
#include "lib/engine/sampler/sequence_sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <vector>

#include "lib/engine/sampler/logits_kernels.h"

namespace r1serve::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr float kInf = std::numeric_limits<float>::infinity();

SequenceSamplerOptions Options(int32_t vocab_size, std::vector<int32_t> eos = {}) {
  SequenceSamplerOptions options;
  options.vocab_size = vocab_size;
  options.eos_token_ids = std::move(eos);
  return options;
}

// Sampling with every filter off unless set.
SamplingParams Sampling(float temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_p = 1.0f;
  p.top_k = 0;
  p.min_p = 0.0f;
  p.repetition_penalty = 1.0f;
  p.seed = 1;
  return p;
}

std::vector<float> LogOf(std::vector<double> probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

SequenceSampler MakeSampler(const SamplingParams& params, int32_t vocab_size,
                            std::vector<int32_t> prompt = {}, std::vector<int32_t> eos = {}) {
  absl::StatusOr<SequenceSampler> sampler =
      SequenceSampler::Create(params, prompt, Options(vocab_size, std::move(eos)));
  EXPECT_TRUE(sampler.ok()) << sampler.status();
  return *std::move(sampler);
}

SampledToken SampleOk(const SequenceSampler& sampler, std::vector<float>& logits) {
  SamplingWorkspace workspace;
  absl::StatusOr<SampledToken> token = sampler.Sample(logits, workspace);
  EXPECT_TRUE(token.ok()) << token.status();
  return token.ok() ? *token : SampledToken{};
}

// The distribution a token is drawn from: every kept token with its probability, read from
// processed logprobs (vocabularies here are at most 20 tokens, so the list is complete).
std::map<int32_t, double> KeptDistribution(SamplingParams params, std::vector<float> logits) {
  params.logprobs = kMaxLogprobs;
  params.logprobs_mode = LogprobsMode::kProcessed;
  const SequenceSampler sampler = MakeSampler(params, static_cast<int32_t>(logits.size()));
  std::map<int32_t, double> out;
  for (const TokenLogprob& t : SampleOk(sampler, logits).top_logprobs) {
    out[t.token_id] = std::exp(static_cast<double>(t.logprob));
  }
  return out;
}

void ExpectDistribution(const std::map<int32_t, double>& got,
                        const std::map<int32_t, double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [id, p] : want) {
    ASSERT_TRUE(got.contains(id)) << "token " << id << " was filtered out";
    EXPECT_NEAR(got.at(id), p, 1e-6) << "token " << id;
  }
}

// ---------------------------------------------------------------------------------------------
// Greedy

TEST(GreedyTest, PicksArgmax) {
  std::vector<float> logits = {0.1f, 2.5f, -1.0f, 2.4f};
  EXPECT_EQ(SampleOk(MakeSampler(Sampling(0), 4), logits).token_id, 1);
}

TEST(GreedyTest, TiesGoToTheLowestId) {
  std::vector<float> logits(300, 0.0f);
  logits[277] = 5;
  logits[130] = 5;
  logits[201] = 5;
  EXPECT_EQ(SampleOk(MakeSampler(Sampling(0), 300), logits).token_id, 130);
}

TEST(GreedyTest, UsesNoRandomnessAndIgnoresFilters) {
  std::vector<float> logits = {0.0f, 1.0f, 3.0f, 2.0f};
  for (uint64_t seed : {1u, 2u, 3u}) {
    SamplingParams p = Sampling(0);
    p.seed = seed;
    p.top_k = 1;
    p.top_p = 0.1f;
    p.min_p = 0.9f;
    EXPECT_EQ(SampleOk(MakeSampler(p, 4), logits).token_id, 2);
  }
  // A temperature whose reciprocal overflows a float is the same limit.
  EXPECT_EQ(SampleOk(MakeSampler(Sampling(1e-40f), 4), logits).token_id, 2);
}

// ---------------------------------------------------------------------------------------------
// Temperature and the filters

TEST(TemperatureTest, DividesLogits) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  const double z = 1 + std::exp(0.5) + std::exp(1.0);
  ExpectDistribution(KeptDistribution(Sampling(2.0f), logits),
                     {{0, 1 / z}, {1, std::exp(0.5) / z}, {2, std::exp(1.0) / z}});
}

TEST(TopKTest, KeepsExactlyKRenormalized) {
  SamplingParams p = Sampling(1.0f);
  p.top_k = 2;
  const double z = std::exp(3.0) + std::exp(2.0);
  ExpectDistribution(KeptDistribution(p, {1.0f, 3.0f, 2.0f, 0.0f}),
                     {{1, std::exp(3.0) / z}, {2, std::exp(2.0) / z}});
}

TEST(TopKTest, KeepsEveryTokenTiedWithTheKth) {
  SamplingParams p = Sampling(1.0f);
  p.top_k = 2;
  ExpectDistribution(KeptDistribution(p, {2.0f, 2.0f, 2.0f, 1.0f}),
                     {{0, 1 / 3.0}, {1, 1 / 3.0}, {2, 1 / 3.0}});
}

TEST(TopKTest, MinusOneZeroAndAboveVocabularyAreOff) {
  for (int32_t k : {-1, 0, 4, 1000}) {
    SamplingParams p = Sampling(1.0f);
    p.top_k = k;
    EXPECT_EQ(KeptDistribution(p, LogOf({0.4, 0.3, 0.2, 0.1})).size(), 4u) << k;
  }
}

TEST(TopKTest, LargeKUsesSelection) {
  // 400 > the heap's limit: the selection path, on 1000 distinct logits.
  std::vector<float> logits(1000);
  for (int i = 0; i < 1000; ++i) logits[i] = static_cast<float>((i * 37) % 1000) / 100.0f;
  SamplingParams p = Sampling(1.0f);
  p.top_k = 400;
  p.seed = 3;
  SequenceSampler sampler = MakeSampler(p, 1000);
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  for (int step = 0; step < 300; ++step) {
    const int32_t id = SampleOk(sampler, logits).token_id;
    EXPECT_GE(logits[id], sorted[399]);
    ASSERT_TRUE(sampler.Append(id).ok());
  }
}

TEST(TopPTest, SmallestSetReachingP) {
  const std::vector<float> logits = LogOf({0.5, 0.25, 0.125, 0.125});
  SamplingParams p = Sampling(1.0f);
  p.top_p = 0.4f;  // 0.5 alone is enough
  ExpectDistribution(KeptDistribution(p, logits), {{0, 1.0}});
  p.top_p = 0.7f;  // 0.5 + 0.25
  ExpectDistribution(KeptDistribution(p, logits), {{0, 2 / 3.0}, {1, 1 / 3.0}});
}

TEST(TopPTest, KeepsEveryTokenTiedWithTheLastTaken) {
  // 0.5 + 0.25 + 0.125 reaches 0.8 already, but the fourth token ties with the third.
  SamplingParams p = Sampling(1.0f);
  p.top_p = 0.8f;
  ExpectDistribution(KeptDistribution(p, LogOf({0.5, 0.25, 0.125, 0.125})),
                     {{0, 0.5}, {1, 0.25}, {2, 0.125}, {3, 0.125}});
}

TEST(TopPTest, OneIsOff) {
  SamplingParams p = Sampling(1.0f);
  p.top_p = 1.0f;
  EXPECT_EQ(KeptDistribution(p, LogOf({0.97, 0.01, 0.01, 0.01})).size(), 4u);
}

TEST(TopPTest, AppliesAfterTemperature) {
  // At T = 1 the top token has 0.5 and top_p 0.45 keeps it alone; at T = 4 the distribution
  // flattens below 0.45 and a second token is needed.
  const std::vector<float> logits = LogOf({0.5, 0.3, 0.2});
  SamplingParams p = Sampling(1.0f);
  p.top_p = 0.45f;
  EXPECT_EQ(KeptDistribution(p, logits).size(), 1u);
  p.temperature = 4.0f;
  EXPECT_EQ(KeptDistribution(p, logits).size(), 2u);
}

TEST(MinPTest, DropsTokensBelowMinPTimesTheTop) {
  SamplingParams p = Sampling(1.0f);
  p.min_p = 0.2f;  // threshold 0.1: 0.15 stays, 0.05 goes
  ExpectDistribution(KeptDistribution(p, LogOf({0.5, 0.3, 0.15, 0.05})),
                     {{0, 0.5 / 0.95}, {1, 0.3 / 0.95}, {2, 0.15 / 0.95}});
}

TEST(MinPTest, AppliesAfterTemperature) {
  // Ratios to the top: e^-1 = 0.37 and e^-2 = 0.14 at T = 1; 0.61 and 0.37 at T = 2.
  SamplingParams p = Sampling(1.0f);
  p.min_p = 0.3f;
  EXPECT_EQ(KeptDistribution(p, {0.0f, -1.0f, -2.0f}).size(), 2u);
  p.temperature = 2.0f;
  EXPECT_EQ(KeptDistribution(p, {0.0f, -1.0f, -2.0f}).size(), 3u);
}

TEST(MinPTest, OneKeepsOnlyTheTopTies) {
  SamplingParams p = Sampling(1.0f);
  p.min_p = 1.0f;
  ExpectDistribution(KeptDistribution(p, {1.0f, 3.0f, 3.0f, 2.0f}), {{1, 0.5}, {2, 0.5}});
}

TEST(FilterOrderTest, TopPRenormalizesOverWhatTopKLeft) {
  // top_k = 2 leaves 0.4 and 0.3, i.e. 4/7 and 3/7: 4/7 alone reaches top_p = 0.5. On the
  // original distribution 0.4 would not.
  SamplingParams p = Sampling(1.0f);
  p.top_k = 2;
  p.top_p = 0.5f;
  ExpectDistribution(KeptDistribution(p, LogOf({0.4, 0.3, 0.2, 0.1})), {{0, 1.0}});
}

TEST(FilterOrderTest, MinPBeforeTopK) {
  SamplingParams p = Sampling(1.0f);
  p.min_p = 0.6f;  // threshold 0.24 leaves two
  p.top_k = 3;
  ExpectDistribution(KeptDistribution(p, LogOf({0.4, 0.3, 0.2, 0.1})),
                     {{0, 4 / 7.0}, {1, 3 / 7.0}});
}

TEST(FilterTest, NegligibleTokensAreNeverDrawn) {
  // A token more than 32 temperature units below the top has probability < 1.3e-14 of the
  // top's: it counts as 0.
  const std::map<int32_t, double> kept = KeptDistribution(Sampling(1.0f), {0.0f, -31.0f, -33.0f});
  EXPECT_EQ(kept.size(), 2u);
  EXPECT_FALSE(kept.contains(2));
}

// ---------------------------------------------------------------------------------------------
// Penalties (read as processed log-probability differences, which equal logit differences)

// Processed logits relative to the token `reference` (which no penalty touches).
std::vector<double> PenalizedRelative(const SamplingParams& params, std::vector<float> logits,
                                      const std::vector<int32_t>& prompt,
                                      const std::vector<int32_t>& generated, int32_t reference) {
  SamplingParams p = params;
  p.logprobs = kMaxLogprobs;
  p.logprobs_mode = LogprobsMode::kProcessed;
  SequenceSampler sampler = MakeSampler(p, static_cast<int32_t>(logits.size()), prompt);
  for (int32_t id : generated) EXPECT_TRUE(sampler.Append(id).ok());
  std::map<int32_t, double> lp;
  for (const TokenLogprob& t : SampleOk(sampler, logits).top_logprobs) lp[t.token_id] = t.logprob;
  std::vector<double> out;
  for (size_t i = 0; i < logits.size(); ++i) {
    out.push_back(lp.at(static_cast<int32_t>(i)) - lp.at(reference));
  }
  return out;
}

void ExpectValues(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "token " << i;
}

TEST(PenaltyTest, RepetitionDividesPositiveAndMultipliesNegativeOverPromptAndOutput) {
  SamplingParams p = Sampling(1.0f);
  p.repetition_penalty = 2.0f;
  // Prompt {1, 2}, output {3}; token 4 is the unpenalized reference (logit 0).
  ExpectValues(PenalizedRelative(p, {1.0f, 2.0f, -1.0f, 0.5f, 0.0f}, {1, 2}, {3}, 4),
               {1.0, 1.0, -2.0, 0.25, 0.0});
}

TEST(PenaltyTest, FrequencyCountsOutputOccurrencesOnly) {
  SamplingParams p = Sampling(1.0f);
  p.frequency_penalty = 0.5f;
  // Token 1 is in the prompt only: untouched. Token 3 generated twice, token 0 once.
  ExpectValues(PenalizedRelative(p, {1.0f, 2.0f, -1.0f, 0.5f, 0.0f}, {1}, {3, 0, 3}, 4),
               {0.5, 2.0, -1.0, -0.5, 0.0});
}

TEST(PenaltyTest, PresenceSubtractsOncePerOutputToken) {
  SamplingParams p = Sampling(1.0f);
  p.presence_penalty = -0.75f;  // negative: encourages repetition
  ExpectValues(PenalizedRelative(p, {1.0f, 2.0f, -1.0f, 0.5f, 0.0f}, {1}, {3, 0, 3}, 4),
               {1.75, 2.0, -1.0, 1.25, 0.0});
}

TEST(PenaltyTest, RepetitionBeforeFrequencyAndPresence) {
  SamplingParams p = Sampling(1.0f);
  p.repetition_penalty = 2.0f;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  // token 0: 1/2 - 0.5 - 0.25; token 1 (prompt): 2/2; token 2 (prompt): -1*2;
  // token 3 (output twice): 0.5/2 - 1 - 0.25.
  ExpectValues(PenalizedRelative(p, {1.0f, 2.0f, -1.0f, 0.5f, 0.0f}, {1, 2}, {3, 3, 0}, 4),
               {-0.25, 1.0, -2.0, -1.0, 0.0});
}

TEST(PenaltyTest, ChangesTheGreedyChoice) {
  SamplingParams p = Sampling(0);
  p.repetition_penalty = 3.0f;
  SequenceSampler sampler = MakeSampler(p, 3, /*prompt=*/{2});
  std::vector<float> logits = {1.0f, 0.0f, 2.0f};  // 2 / 3 < 1
  EXPECT_EQ(SampleOk(sampler, logits).token_id, 0);
}

TEST(PenaltyTest, LogitsAreRestoredAfterSampling) {
  SamplingParams p = Sampling(0.8f);
  p.repetition_penalty = 1.5f;
  p.frequency_penalty = 1.0f;
  p.min_tokens = 5;
  SequenceSampler sampler = MakeSampler(p, 6, /*prompt=*/{0, 1, 1}, /*eos=*/{5});
  ASSERT_TRUE(sampler.Append(1).ok());
  std::vector<float> logits = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, 4.0f};
  const std::vector<float> before = logits;
  SampleOk(sampler, logits);
  EXPECT_EQ(logits, before);
}

// ---------------------------------------------------------------------------------------------
// Seeds and draws

std::vector<int32_t> Generate(SequenceSampler sampler, const std::vector<float>& row, int steps) {
  std::vector<float> logits = row;
  std::vector<int32_t> out;
  for (int i = 0; i < steps; ++i) {
    const int32_t id = SampleOk(sampler, logits).token_id;
    out.push_back(id);
    EXPECT_TRUE(sampler.Append(id).ok());
  }
  return out;
}

std::vector<float> FlatRow(size_t n) {
  std::mt19937 gen(99);
  std::uniform_real_distribution<float> dist(0, 1);
  std::vector<float> row(n);
  for (float& v : row) v = dist(gen);
  return row;
}

TEST(SeedTest, SameSeedSameTokensOtherSeedsDiffer) {
  const std::vector<float> row = FlatRow(1000);
  SamplingParams p = Sampling(1.0f);
  p.top_p = 0.9f;
  p.seed = 7;
  const std::vector<int32_t> a = Generate(MakeSampler(p, 1000), row, 64);
  EXPECT_EQ(Generate(MakeSampler(p, 1000), row, 64), a);
  p.seed = 8;
  EXPECT_NE(Generate(MakeSampler(p, 1000), row, 64), a);
}

TEST(SeedTest, SampleIndexSeparatesTheSamplesOfARequest) {
  const std::vector<float> row = FlatRow(1000);
  SamplingParams p = Sampling(1.0f);
  p.seed = 7;
  SequenceSamplerOptions options = Options(1000);
  options.sample_index = 1;
  absl::StatusOr<SequenceSampler> second = SequenceSampler::Create(p, {}, options);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(Generate(*second, row, 64), Generate(MakeSampler(p, 1000), row, 64));
}

TEST(SeedTest, UnseededSamplersDiffer) {
  const std::vector<float> row = FlatRow(1000);
  SamplingParams p = Sampling(1.0f);
  p.seed.reset();
  EXPECT_NE(Generate(MakeSampler(p, 1000), row, 64), Generate(MakeSampler(p, 1000), row, 64));
}

TEST(SeedTest, SampleIsPureAndResumesFromTheTokenCount) {
  // What prefill/decode handoff and preemption rely on: a sampler rebuilt from the tokens so far
  // continues exactly like the original.
  const std::vector<float> row = FlatRow(1000);
  SamplingParams p = Sampling(1.0f);
  p.seed = 11;
  SequenceSampler original = MakeSampler(p, 1000);
  std::vector<float> logits = row;
  EXPECT_EQ(SampleOk(original, logits).token_id, SampleOk(original, logits).token_id);
  const std::vector<int32_t> first = Generate(original, row, 10);
  SequenceSampler rebuilt = MakeSampler(p, 1000);
  for (int32_t id : first) ASSERT_TRUE(rebuilt.Append(id).ok());
  for (int32_t id : first) ASSERT_TRUE(original.Append(id).ok());
  EXPECT_EQ(Generate(rebuilt, row, 20), Generate(original, row, 20));
}

TEST(SeedTest, SameTokensWithAndWithoutAvx2) {
  // A seeded sample must not depend on the machine it runs on.
  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0, 3);
  std::vector<float> row(20000);
  for (float& v : row) v = normal(gen);
  SamplingParams p = Sampling(0.6f);
  p.top_p = 0.95f;
  p.seed = 13;
  const std::vector<int32_t> with = Generate(MakeSampler(p, 20000), row, 200);
  const bool previous = EnableAvx2Kernels(false);
  const std::vector<int32_t> without = Generate(MakeSampler(p, 20000), row, 200);
  EnableAvx2Kernels(previous);
  EXPECT_EQ(with, without);
}

// Pearson's chi-square of `n` draws against `probs`; the bounds below are the 0.999 quantiles,
// so a correct sampler fails with probability 1e-3 for a random seed, and never for the fixed
// seed used here; a biased one fails.
double ChiSquare(const std::map<int32_t, int>& counts, const std::map<int32_t, double>& probs,
                 int n) {
  double chi2 = 0;
  for (const auto& [id, p] : probs) {
    const double expected = p * n;
    const double got = counts.contains(id) ? counts.at(id) : 0;
    chi2 += (got - expected) * (got - expected) / expected;
  }
  return chi2;
}

std::map<int32_t, int> Draw(const SamplingParams& params, const std::vector<float>& row, int n) {
  SequenceSampler sampler = MakeSampler(params, static_cast<int32_t>(row.size()));
  std::vector<float> logits = row;
  SamplingWorkspace workspace;
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<SampledToken> t = sampler.Sample(logits, workspace);
    EXPECT_TRUE(t.ok());
    ++counts[t->token_id];
    EXPECT_TRUE(sampler.Append(t->token_id).ok());
  }
  return counts;
}

std::map<int32_t, double> Softmax(const std::vector<float>& logits, float t,
                                  const std::vector<int32_t>& keep) {
  std::map<int32_t, double> p;
  double z = 0;
  for (int32_t id : keep) z += std::exp(logits[id] / static_cast<double>(t));
  for (int32_t id : keep) p[id] = std::exp(logits[id] / static_cast<double>(t)) / z;
  return p;
}

TEST(DrawFrequencyTest, TemperatureSamplingMatchesSoftmax) {
  const std::vector<float> logits = {0.0f, 0.5f, 1.0f, 1.5f, -1.0f};
  SamplingParams p = Sampling(0.8f);
  p.seed = 1234;
  const int n = 20000;
  EXPECT_LT(ChiSquare(Draw(p, logits, n), Softmax(logits, 0.8f, {0, 1, 2, 3, 4}), n),
            18.47);  // 4 degrees of freedom
}

TEST(DrawFrequencyTest, TopKAndTopPDrawFromTheRenormalizedSet) {
  const std::vector<float> logits = {0.0f, 0.5f, 1.0f, 1.5f, -1.0f};
  const int n = 20000;
  SamplingParams p = Sampling(0.8f);
  p.seed = 99;
  p.top_k = 3;
  const std::map<int32_t, int> top_k = Draw(p, logits, n);
  EXPECT_EQ(top_k.size(), 3u);
  EXPECT_LT(ChiSquare(top_k, Softmax(logits, 0.8f, {1, 2, 3}), n), 13.82);  // 2 dof
  p.top_k = 0;
  // softmax(x / 0.8) = .076 .142 .265 .495 .022: .495 + .265 = .760 < 0.8, so the nucleus is
  // tokens 3, 2 and 1.
  p.top_p = 0.8f;
  const std::map<int32_t, double> want = Softmax(logits, 0.8f, {1, 2, 3});
  const std::map<int32_t, int> top_p = Draw(p, logits, n);
  EXPECT_EQ(top_p.size(), 3u);
  EXPECT_LT(ChiSquare(top_p, want, n), 13.82);
}

TEST(DrawFrequencyTest, LargeVocabularyGatherPath) {
  // 150k tokens of which three carry the mass; the rest lie > 32 temperature units below.
  std::vector<float> logits(150000, -40.0f);
  logits[100] = 0.0f;
  logits[70000] = 1.0f;
  logits[149999] = 2.0f;
  SamplingParams p = Sampling(1.0f);
  p.top_p = 0.99f;
  p.seed = 5;
  const int n = 6000;
  EXPECT_LT(ChiSquare(Draw(p, logits, n), Softmax(logits, 1.0f, {100, 70000, 149999}), n), 13.82);
}

TEST(DrawFrequencyTest, LargeVocabularyNucleusMatchesFullSortReference) {
  // Qwen2's vocabulary, trained-model-like and flat rows: every draw lies in the nucleus a full
  // sort finds.
  std::mt19937 gen(17);
  std::normal_distribution<float> normal(0, 3);
  std::vector<float> peaked(151936);
  for (float& v : peaked) v = normal(gen);
  for (const std::vector<float>& row : {peaked, FlatRow(151936)}) {
    const float t = 0.6f, top_p = 0.95f;
    std::vector<int32_t> order(row.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
    const double max = row[order[0]];
    double z = 0;
    for (float v : row) z += std::exp((v - max) / t);
    double cumulative = 0;
    float cut = 0;
    for (int32_t id : order) {
      cumulative += std::exp((row[id] - max) / t);
      cut = row[id];
      if (cumulative >= top_p * z) break;
    }
    SamplingParams p = Sampling(t);
    p.top_p = top_p;
    p.seed = 21;
    for (const auto& [id, count] : Draw(p, row, 300)) EXPECT_GE(row[id], cut) << id;
  }
}

// ---------------------------------------------------------------------------------------------
// Logprobs

TEST(LogprobsTest, RawIsLogSoftmaxOfTheModelLogitsBeforePenalties) {
  std::vector<float> logits = {0.3f, 2.0f, -1.0f, 2.0f, 0.7f, -3.0f};
  SamplingParams p = Sampling(0.7f);
  p.repetition_penalty = 1.8f;
  p.logprobs = 3;
  SequenceSampler sampler = MakeSampler(p, 6, /*prompt=*/{1, 3});
  const SampledToken token = SampleOk(sampler, logits);
  double z = 0;
  for (float v : logits) z += std::exp(static_cast<double>(v));
  auto raw = [&](int32_t id) { return std::log(std::exp(static_cast<double>(logits[id])) / z); };
  ASSERT_TRUE(token.logprob.has_value());
  EXPECT_NEAR(*token.logprob, raw(token.token_id), 1e-5);
  ASSERT_EQ(token.top_logprobs.size(), 3u);
  // Most likely first; the tie between 1 and 3 goes to the lower id.
  EXPECT_EQ(token.top_logprobs[0].token_id, 1);
  EXPECT_EQ(token.top_logprobs[1].token_id, 3);
  EXPECT_EQ(token.top_logprobs[2].token_id, 4);
  for (const TokenLogprob& t : token.top_logprobs) EXPECT_NEAR(t.logprob, raw(t.token_id), 1e-5);
}

TEST(LogprobsTest, ZeroGivesTheTokensLogprobOnlyAndUnsetNone) {
  std::vector<float> logits = {0.0f, 1.0f};
  SamplingParams p = Sampling(1.0f);
  p.logprobs = 0;
  const SampledToken with = SampleOk(MakeSampler(p, 2), logits);
  EXPECT_TRUE(with.logprob.has_value());
  EXPECT_TRUE(with.top_logprobs.empty());
  p.logprobs.reset();
  const SampledToken without = SampleOk(MakeSampler(p, 2), logits);
  EXPECT_FALSE(without.logprob.has_value());
  EXPECT_TRUE(without.top_logprobs.empty());
}

TEST(LogprobsTest, RawListsMaskedTokensProcessedDoesNot) {
  // EOS (3) is the most likely token but masked by min_tokens.
  std::vector<float> logits = {0.0f, 1.0f, 0.5f, 5.0f};
  SamplingParams p = Sampling(1.0f);
  p.min_tokens = 1;
  p.logprobs = 2;
  const SampledToken raw = SampleOk(MakeSampler(p, 4, {}, /*eos=*/{3}), logits);
  EXPECT_NE(raw.token_id, 3);
  EXPECT_EQ(raw.top_logprobs[0].token_id, 3);
  p.logprobs_mode = LogprobsMode::kProcessed;
  const SampledToken processed = SampleOk(MakeSampler(p, 4, {}, /*eos=*/{3}), logits);
  EXPECT_EQ(processed.top_logprobs[0].token_id, 1);
  EXPECT_EQ(processed.top_logprobs[1].token_id, 2);
}

TEST(LogprobsTest, ProcessedGreedyIsLogSoftmaxOfPenalizedLogits) {
  std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  SamplingParams p = Sampling(0);
  p.logprobs = 3;
  p.logprobs_mode = LogprobsMode::kProcessed;
  p.presence_penalty = 1.5f;
  SequenceSampler sampler = MakeSampler(p, 3);
  ASSERT_TRUE(sampler.Append(2).ok());
  const SampledToken token = SampleOk(sampler, logits);  // 2 becomes 0.5: argmax is 1
  EXPECT_EQ(token.token_id, 1);
  const double z = std::exp(0.0) + std::exp(1.0) + std::exp(0.5);
  EXPECT_NEAR(*token.logprob, std::log(std::exp(1.0) / z), 1e-6);
  EXPECT_EQ(token.top_logprobs.size(), 3u);
}

TEST(LogprobsTest, ProcessedIsWhatTheTokenWasDrawnFrom) {
  std::vector<float> logits = LogOf({0.5, 0.3, 0.15, 0.05});
  SamplingParams p = Sampling(1.0f);
  p.top_k = 2;
  p.logprobs = 4;
  p.logprobs_mode = LogprobsMode::kProcessed;
  const SampledToken token = SampleOk(MakeSampler(p, 4), logits);
  ASSERT_EQ(token.top_logprobs.size(), 2u);  // filtered-out tokens have probability 0
  const double want = token.token_id == 0 ? 0.5 / 0.8 : 0.3 / 0.8;
  EXPECT_NEAR(*token.logprob, std::log(want), 1e-6);
}

// ---------------------------------------------------------------------------------------------
// Masks and token-level stops

TEST(MinTokensTest, MasksEosAndStopTokensUntilReached) {
  // EOS 3 is the most likely, stop token 2 the next: greedy takes 1 twice, then EOS.
  std::vector<float> logits = {0.0f, 1.0f, 2.0f, 3.0f};
  SamplingParams p = Sampling(0);
  p.min_tokens = 2;
  p.stop_token_ids = {2};
  SequenceSampler sampler = MakeSampler(p, 4, {}, /*eos=*/{3});
  for (int i = 0; i < 2; ++i) {
    const int32_t id = SampleOk(sampler, logits).token_id;
    EXPECT_EQ(id, 1);
    EXPECT_EQ(*sampler.Append(id), FinishReason::kNone);
  }
  const int32_t id = SampleOk(sampler, logits).token_id;
  EXPECT_EQ(id, 3);
  EXPECT_EQ(*sampler.Append(id), FinishReason::kEos);
}

TEST(MinTokensTest, EveryTokenMaskedIsAnError) {
  std::vector<float> logits = {1.0f};
  SamplingParams p = Sampling(1.0f);
  p.min_tokens = 1;
  SamplingWorkspace workspace;
  absl::StatusOr<SampledToken> token = MakeSampler(p, 1, {}, /*eos=*/{0}).Sample(logits, workspace);
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(IgnoreEosTest, EosIsSampledAndDoesNotStop) {
  std::vector<float> logits = {0.0f, 1.0f, 2.0f, 3.0f};
  SamplingParams p = Sampling(0);
  p.ignore_eos = true;
  p.min_tokens = 2;  // ignore_eos: EOS ends nothing, so min_tokens does not mask it
  p.max_tokens = 3;
  SequenceSampler sampler = MakeSampler(p, 4, {}, /*eos=*/{3});
  std::vector<FinishReason> reasons;
  for (int i = 0; i < 3; ++i) {
    const int32_t id = SampleOk(sampler, logits).token_id;
    EXPECT_EQ(id, 3);
    reasons.push_back(*sampler.Append(id));
  }
  EXPECT_THAT(reasons,
              ElementsAre(FinishReason::kNone, FinishReason::kNone, FinishReason::kLength));
}

TEST(IgnoreEosTest, StopTokensStillApply) {
  SamplingParams p = Sampling(0);
  p.ignore_eos = true;
  p.stop_token_ids = {3};
  SequenceSampler sampler = MakeSampler(p, 4, {}, /*eos=*/{3});
  EXPECT_EQ(*sampler.Append(3), FinishReason::kStopToken);
}

TEST(StopTest, StopTokenEndsTheSample) {
  SamplingParams p = Sampling(0);
  p.stop_token_ids = {2};
  SequenceSampler sampler = MakeSampler(p, 4, {}, /*eos=*/{3});
  EXPECT_EQ(*sampler.Append(1), FinishReason::kNone);
  EXPECT_EQ(*sampler.Append(2), FinishReason::kStopToken);
  EXPECT_TRUE(sampler.finished());
}

TEST(StopTest, MaxTokensAndPrecedence) {
  SamplingParams p = Sampling(0);
  p.max_tokens = 2;
  SequenceSampler sampler = MakeSampler(p, 4, {}, /*eos=*/{3});
  EXPECT_EQ(*sampler.Append(0), FinishReason::kNone);
  EXPECT_EQ(*sampler.Append(0), FinishReason::kLength);
  // EOS as the last allowed token is reported as EOS.
  SequenceSampler other = MakeSampler(p, 4, {}, /*eos=*/{3});
  EXPECT_EQ(*other.Append(0), FinishReason::kNone);
  EXPECT_EQ(*other.Append(3), FinishReason::kEos);
}

TEST(StopTest, ContextWindow) {
  SequenceSamplerOptions options = Options(4);
  options.max_context_tokens = 5;
  absl::StatusOr<SequenceSampler> sampler =
      SequenceSampler::Create(Sampling(0), std::vector<int32_t>{0, 1, 2}, options);
  ASSERT_TRUE(sampler.ok());
  EXPECT_EQ(*sampler->Append(0), FinishReason::kNone);
  EXPECT_EQ(*sampler->Append(0), FinishReason::kContextLength);
}

TEST(StopTest, FinishedSamplesRefuseMoreWork) {
  SamplingParams p = Sampling(0);
  p.max_tokens = 1;
  SequenceSampler sampler = MakeSampler(p, 2);
  ASSERT_EQ(*sampler.Append(0), FinishReason::kLength);
  EXPECT_EQ(sampler.Append(0).status().code(), absl::StatusCode::kFailedPrecondition);
  std::vector<float> logits = {0.0f, 1.0f};
  SamplingWorkspace workspace;
  EXPECT_EQ(sampler.Sample(logits, workspace).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(StopTest, StopStringsActiveOnceMinTokensGenerated) {
  SamplingParams p = Sampling(0);
  p.min_tokens = 2;
  SequenceSampler sampler = MakeSampler(p, 4);
  EXPECT_FALSE(sampler.stop_strings_active());
  ASSERT_TRUE(sampler.Append(0).ok());
  EXPECT_FALSE(sampler.stop_strings_active());
  ASSERT_TRUE(sampler.Append(0).ok());
  EXPECT_TRUE(sampler.stop_strings_active());
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(ErrorTest, BadRows) {
  SequenceSampler sampler = MakeSampler(Sampling(1.0f), 3);
  SamplingWorkspace workspace;
  std::vector<float> short_row = {0.0f, 1.0f};
  EXPECT_EQ(sampler.Sample(short_row, workspace).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> nan_row = {0.0f, std::nanf(""), 1.0f};
  EXPECT_EQ(sampler.Sample(nan_row, workspace).status().code(), absl::StatusCode::kInternal);
  std::vector<float> inf_row = {0.0f, kInf, 1.0f};
  EXPECT_EQ(sampler.Sample(inf_row, workspace).status().code(), absl::StatusCode::kInternal);
}

TEST(ErrorTest, CreateValidates) {
  SamplingParams p = Sampling(-1.0f);
  absl::StatusOr<SequenceSampler> sampler = SequenceSampler::Create(p, {}, Options(4));
  EXPECT_EQ(sampler.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sampler.status().message(), HasSubstr("temperature"));
  EXPECT_FALSE(SequenceSampler::Create(Sampling(1.0f), std::vector<int32_t>{7}, Options(4)).ok());
  EXPECT_FALSE(SequenceSampler::Create(Sampling(1.0f), {}, Options(4, /*eos=*/{4})).ok());
  SamplingParams bad_stop = Sampling(1.0f);
  bad_stop.stop_token_ids = {4};
  EXPECT_THAT(SequenceSampler::Create(bad_stop, {}, Options(4)).status().message(),
              HasSubstr("stop_token_ids[0] = 4"));
  SequenceSampler ok = MakeSampler(Sampling(1.0f), 4);
  EXPECT_EQ(ok.Append(4).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DefaultsTest, UnsetKnobsTakeTheModelDefaults) {
  SequenceSamplerOptions options = Options(4);
  options.defaults.temperature = 0.0f;  // this "model" decodes greedily by default
  absl::StatusOr<SequenceSampler> sampler = SequenceSampler::Create(SamplingParams{}, {}, options);
  ASSERT_TRUE(sampler.ok());
  EXPECT_EQ(*sampler->params().temperature, 0.0f);
  EXPECT_EQ(*sampler->params().top_p, 0.95f);
  std::vector<float> logits = {0.0f, 3.0f, 1.0f, 2.0f};
  EXPECT_EQ(SampleOk(*sampler, logits).token_id, 1);
  options.defaults.top_p = 0.0f;
  EXPECT_THAT(SequenceSampler::Create(SamplingParams{}, {}, options).status().message(),
              HasSubstr("default sampling parameters"));
}

// ---------------------------------------------------------------------------------------------
// Batch

TEST(SampleBatchTest, EachRowWithItsOwnParamsAndErrorsStayInTheirItem) {
  constexpr int32_t kVocab = 300;
  std::vector<float> logits(3 * kVocab);
  const std::vector<float> row = FlatRow(kVocab);
  for (int r = 0; r < 3; ++r) std::copy(row.begin(), row.end(), logits.begin() + r * kVocab);
  logits[2 * kVocab + 5] = std::nanf("");  // row 2 is broken

  SamplingParams greedy = Sampling(0);
  SamplingParams top_k = Sampling(1.0f);
  top_k.top_k = 5;
  top_k.seed = 4;
  SequenceSampler a = MakeSampler(greedy, kVocab);
  SequenceSampler b = MakeSampler(top_k, kVocab);
  SequenceSampler c = MakeSampler(top_k, kVocab);
  std::vector<SequenceSampler*> samplers = {&a, &b, &c};
  SamplingWorkspace workspace;
  absl::StatusOr<std::vector<absl::StatusOr<BatchStep>>> steps =
      SampleBatch(samplers, logits, workspace);
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), 3u);

  std::vector<float> copy = row;
  ASSERT_TRUE((*steps)[0].ok());
  EXPECT_EQ((*steps)[0]->token.token_id, SampleOk(MakeSampler(greedy, kVocab), copy).token_id);
  ASSERT_TRUE((*steps)[1].ok());
  EXPECT_EQ((*steps)[1]->token.token_id, SampleOk(MakeSampler(top_k, kVocab), copy).token_id);
  EXPECT_EQ((*steps)[2].status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(a.generated_tokens(), 1u);  // sampled and appended
  EXPECT_EQ(c.generated_tokens(), 0u);
}

TEST(SampleBatchTest, ShapeMismatchFailsTheCall) {
  SequenceSampler a = MakeSampler(Sampling(0), 4);
  SequenceSampler b = MakeSampler(Sampling(0), 5);
  std::vector<SequenceSampler*> samplers = {&a, &b};
  std::vector<float> logits(9);
  SamplingWorkspace workspace;
  EXPECT_EQ(SampleBatch(samplers, logits, workspace).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> even(8);
  EXPECT_EQ(SampleBatch(samplers, even, workspace).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace r1serve::engine
