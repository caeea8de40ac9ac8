#include "lib/text/normalizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lib/text/json_fields.h"

namespace r1serve::text {
namespace {

std::string Normalize(const std::string& json, const std::string& text) {
  absl::StatusOr<std::unique_ptr<Normalizer>> n = Normalizer::FromJson(nlohmann::json::parse(json));
  EXPECT_TRUE(n.ok()) << n.status();
  if (!n.ok() || *n == nullptr) return text;
  std::string storage;
  return std::string((*n)->Normalize(text, &storage));
}

TEST(NormalizerTest, Forms) {
  EXPECT_EQ(Normalize(R"({"type": "NFC"})", "cafe\u0301 \u212B"), "caf\u00E9 \u00C5");
  EXPECT_EQ(Normalize(R"({"type": "NFD"})", "caf\u00E9"), "cafe\u0301");
  EXPECT_EQ(Normalize(R"({"type": "NFKC"})", "\uFB01 x\u00B2"), "fi x2");
  EXPECT_EQ(Normalize(R"({"type": "NFKD"})", "\u00BD"), "1\u20442");
  EXPECT_EQ(Normalize(R"({"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "NFC"}]})",
                      "A\u030A"),
            "\u00C5");
}

TEST(NormalizerTest, UsesHfsUnicode9Tables) {
  // HF tokenizers 0.22.2 leaves these alone: U+11935 U+11930 compose to U+11938 only since
  // Unicode 13, and U+1DF6 (Unicode 10) has no combining class in Unicode 9 data.
  EXPECT_EQ(Normalize(R"({"type": "NFC"})", "\U00011935\U00011930"), "\U00011935\U00011930");
  EXPECT_EQ(Normalize(R"({"type": "NFC"})", "a\u1DF6\u0316"), "a\u1DF6\u0316");
  EXPECT_EQ(Normalize(R"({"type": "NFC"})", "a\u0301\u0316"), "\u00E1\u0316");  // 9.0 data
}

TEST(NormalizerTest, NoOpNormalizersAreNull) {
  EXPECT_EQ(*Normalizer::FromJson(nullptr), nullptr);
  EXPECT_EQ(
      *Normalizer::FromJson(nlohmann::json::parse(R"({"type": "Sequence", "normalizers": []})")),
      nullptr);
}

TEST(NormalizerTest, UnsupportedTypeIsAnError) {
  absl::StatusOr<std::unique_ptr<Normalizer>> n =
      Normalizer::FromJson(nlohmann::json::parse(R"({"type": "BertNormalizer"})"));
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(n.status().message()), ::testing::HasSubstr("\"BertNormalizer\""));
}

TEST(NormalizerTest, MalformedSequencesAreErrors) {
  auto error = [](const nlohmann::json& json) {
    absl::StatusOr<std::unique_ptr<Normalizer>> n = Normalizer::FromJson(json);
    EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(n.status().message());
  };
  EXPECT_THAT(error(nlohmann::json::parse(R"({"type": "Sequence"})")),
              ::testing::HasSubstr("normalizer.normalizers is not a list"));
  EXPECT_THAT(error(nlohmann::json::parse(R"({"type": ["NFC"]})")),
              ::testing::HasSubstr("has no \"type\""));
  // Each level used to cost a stack frame: 200000 levels overflowed the stack.
  auto nested = [](int levels) {
    std::string json;
    for (int i = 0; i < levels; ++i) json += R"({"type": "Sequence", "normalizers": [)";
    json += R"({"type": "NFC"})";
    for (int i = 0; i < levels; ++i) json += "]}";
    return nlohmann::json::parse(json);
  };
  EXPECT_TRUE(Normalizer::FromJson(nested(kMaxSequenceNesting)).ok());
  EXPECT_THAT(error(nested(kMaxSequenceNesting + 1)), ::testing::HasSubstr("more than 64 levels"));
  EXPECT_THAT(error(nested(200000)), ::testing::HasSubstr("more than 64 levels"));
}

}  // namespace
}  // namespace r1serve::text
