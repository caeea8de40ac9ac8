// Validation of SamplingParams (one test per rule: the error names the field and the value) and
// the resolution of unset knobs from model defaults.
#include "lib/engine/sampler/sampling_params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

namespace r1serve::engine {
namespace {

using ::testing::HasSubstr;

SamplingLimits Limits() {
  SamplingLimits limits;
  limits.vocab_size = 1000;
  return limits;
}

void ExpectInvalid(const std::function<void(SamplingParams&)>& change, const std::string& text) {
  SamplingParams p;
  change(p);
  const absl::Status status = ValidateSamplingParams(p, Limits());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
  EXPECT_THAT(status.message(), HasSubstr(text));
}

void ExpectValid(const std::function<void(SamplingParams&)>& change) {
  SamplingParams p;
  change(p);
  EXPECT_TRUE(ValidateSamplingParams(p, Limits()).ok()) << ValidateSamplingParams(p, Limits());
}

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(ValidateSamplingParamsTest, DefaultsAreValid) {
  ExpectValid([](SamplingParams&) {});
}

TEST(ValidateSamplingParamsTest, Temperature) {
  ExpectInvalid([](SamplingParams& p) { p.temperature = -0.5f; }, "temperature");
  ExpectInvalid([](SamplingParams& p) { p.temperature = kNan; }, "temperature");
  ExpectInvalid([](SamplingParams& p) { p.temperature = kInf; }, "temperature");
  ExpectValid([](SamplingParams& p) { p.temperature = 0; });
  ExpectValid([](SamplingParams& p) { p.temperature = 100; });
}

TEST(ValidateSamplingParamsTest, TopP) {
  ExpectInvalid([](SamplingParams& p) { p.top_p = 0; }, "top_p must be in (0, 1]");
  ExpectInvalid([](SamplingParams& p) { p.top_p = 1.01f; }, "got 1.01");
  ExpectInvalid([](SamplingParams& p) { p.top_p = kNan; }, "top_p");
  ExpectValid([](SamplingParams& p) { p.top_p = 1; });
  ExpectValid([](SamplingParams& p) { p.top_p = 1e-6f; });
}

TEST(ValidateSamplingParamsTest, TopK) {
  ExpectInvalid([](SamplingParams& p) { p.top_k = -2; }, "top_k must be -1 or 0");
  for (int32_t k : {-1, 0, 1, 1000000}) ExpectValid([k](SamplingParams& p) { p.top_k = k; });
}

TEST(ValidateSamplingParamsTest, MinP) {
  ExpectInvalid([](SamplingParams& p) { p.min_p = -0.1f; }, "min_p must be in [0, 1]");
  ExpectInvalid([](SamplingParams& p) { p.min_p = 1.5f; }, "min_p");
  ExpectInvalid([](SamplingParams& p) { p.min_p = kNan; }, "min_p");
  ExpectValid([](SamplingParams& p) { p.min_p = 0; });
  ExpectValid([](SamplingParams& p) { p.min_p = 1; });
}

TEST(ValidateSamplingParamsTest, PresenceAndFrequencyPenalties) {
  ExpectInvalid([](SamplingParams& p) { p.presence_penalty = 2.5f; }, "presence_penalty");
  ExpectInvalid([](SamplingParams& p) { p.frequency_penalty = -3; }, "frequency_penalty");
  ExpectInvalid([](SamplingParams& p) { p.frequency_penalty = kNan; }, "frequency_penalty");
  ExpectValid([](SamplingParams& p) {
    p.presence_penalty = -2;
    p.frequency_penalty = 2;
  });
}

TEST(ValidateSamplingParamsTest, RepetitionPenalty) {
  ExpectInvalid([](SamplingParams& p) { p.repetition_penalty = 0; }, "repetition_penalty");
  ExpectInvalid([](SamplingParams& p) { p.repetition_penalty = kInf; }, "repetition_penalty");
  ExpectValid([](SamplingParams& p) { p.repetition_penalty = 0.5f; });
}

TEST(ValidateSamplingParamsTest, StopStrings) {
  ExpectInvalid([](SamplingParams& p) { p.stop = {"a", ""}; }, "stop[1] is empty");
  ExpectInvalid([](SamplingParams& p) { p.stop = std::vector<std::string>(17, "x"); },
                "stop has 17 strings; at most 16");
  ExpectInvalid([](SamplingParams& p) { p.stop = {std::string(257, 'x')}; },
                "stop[0] is 257 bytes long; at most 256");
  ExpectValid([](SamplingParams& p) { p.stop = std::vector<std::string>(16, "</answer>"); });
}

TEST(ValidateSamplingParamsTest, StopTokenIds) {
  ExpectInvalid(
      [](SamplingParams& p) {
        p.stop_token_ids = {5, 1000};
      },
      "stop_token_ids[1] = 1000 is not a token id");
  ExpectInvalid([](SamplingParams& p) { p.stop_token_ids = {-1}; }, "stop_token_ids[0] = -1");
  ExpectInvalid([](SamplingParams& p) { p.stop_token_ids = std::vector<int32_t>(65, 1); },
                "stop_token_ids has 65 ids");
  ExpectValid([](SamplingParams& p) { p.stop_token_ids = {0, 999}; });
}

TEST(ValidateSamplingParamsTest, MaxAndMinTokens) {
  ExpectInvalid([](SamplingParams& p) { p.max_tokens = 0; }, "max_tokens must be >= 1");
  ExpectInvalid(
      [](SamplingParams& p) {
        p.max_tokens = 5;
        p.min_tokens = 6;
      },
      "min_tokens (6) must be <= max_tokens (5)");
  ExpectValid([](SamplingParams& p) { p.min_tokens = 100; });  // unset max_tokens: any
  ExpectValid([](SamplingParams& p) {
    p.max_tokens = 5;
    p.min_tokens = 5;
  });
}

TEST(ValidateSamplingParamsTest, N) {
  ExpectInvalid([](SamplingParams& p) { p.n = 65; }, "n = 65 is above this server's limit of 64");
  ExpectValid([](SamplingParams& p) { p.n = 0; });
  ExpectValid([](SamplingParams& p) { p.n = 64; });
}

TEST(ValidateSamplingParamsTest, Logprobs) {
  ExpectInvalid([](SamplingParams& p) { p.logprobs = 21; }, "logprobs must be in [0, 20]");
  ExpectValid([](SamplingParams& p) { p.logprobs = 0; });
  ExpectValid([](SamplingParams& p) { p.logprobs = 20; });
  ExpectInvalid([](SamplingParams& p) { p.logprobs_mode = static_cast<LogprobsMode>(9); },
                "logprobs_mode");
}

TEST(ResolveSamplingParamsTest, FillsOnlyUnsetKnobs) {
  SamplingDefaults defaults;
  defaults.top_k = 20;
  SamplingParams p;
  p.temperature = 1.0f;
  const SamplingParams r = ResolveSamplingParams(p, defaults);
  EXPECT_EQ(*r.temperature, 1.0f);
  EXPECT_EQ(*r.top_p, 0.95f);
  EXPECT_EQ(*r.top_k, 20);
  EXPECT_EQ(*r.min_p, 0.0f);
  EXPECT_EQ(*r.repetition_penalty, 1.0f);
  EXPECT_TRUE(*r.skip_special_tokens);
  EXPECT_EQ(r.n, 1u);
  EXPECT_EQ(r.logprobs_mode, LogprobsMode::kRaw);
  EXPECT_FALSE(r.seed.has_value());
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_FALSE(r.logprobs.has_value());
}

TEST(ResolveSamplingParamsTest, R1DefaultsWhenTheModelGivesNone) {
  const SamplingParams r = ResolveSamplingParams(SamplingParams{}, SamplingDefaults{});
  EXPECT_EQ(*r.temperature, 0.6f);
  EXPECT_EQ(*r.top_p, 0.95f);
}

}  // namespace
}  // namespace r1serve::engine
