// PreTokenizer on small cases; every expected split came from HF tokenizers 0.22.2
// (preTokenizeString of a tokenizer built from the same JSON; ByteLevel's 'Ġ' written back
// as the space it stands for, since PreTokenizer hands out raw bytes).
#include "lib/text/pre_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/text/json_fields.h"

namespace r1serve::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// `steps`: a JSON list of pre-tokenizers; a final ByteLevel (no regex, no prefix) is added
// unless the list has one.
std::vector<std::string> Split(const std::string& steps, const std::string& text) {
  nlohmann::json list = nlohmann::json::parse(steps);
  if (list.back()["type"] != "ByteLevel") {
    list.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}});
  }
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre =
      PreTokenizer::FromJson({{"type", "Sequence"}, {"pretokenizers", list}});
  EXPECT_TRUE(pre.ok()) << pre.status();
  std::vector<std::string> pieces;
  if (pre.ok()) {
    absl::Status split = (*pre)->Split(text, [&](std::string_view p) { pieces.emplace_back(p); });
    EXPECT_TRUE(split.ok()) << split;
  }
  return pieces;
}

std::string SplitStep(const std::string& regex, const std::string& behavior, bool invert = false) {
  nlohmann::json step = {{"type", "Split"},
                         {"pattern", {{"Regex", regex}}},
                         {"behavior", behavior},
                         {"invert", invert}};
  return step.dump();
}

TEST(PreTokenizerTest, Behaviors) {
  EXPECT_THAT(Split("[" + SplitStep("\\s+", "Isolated") + "]", "a  b c"),
              ElementsAre("a", "  ", "b", " ", "c"));
  EXPECT_THAT(Split("[" + SplitStep("\\s+", "Removed") + "]", " a  b c "),
              ElementsAre("a", "b", "c"));
  EXPECT_THAT(Split("[" + SplitStep("\\p{L}+", "Removed", true) + "]", "ab, cd!e"),
              ElementsAre("ab", "cd", "e"));
  EXPECT_THAT(Split("[" + SplitStep("\\s", "MergedWithPrevious") + "]", "a b  c "),
              ElementsAre("a ", "b ", " ", "c "));
  EXPECT_THAT(Split("[" + SplitStep("\\s", "MergedWithNext") + "]", " a b  c"),
              ElementsAre(" a", " b", " ", " c"));
  EXPECT_THAT(Split("[" + SplitStep("\\p{P}", "Contiguous") + "]", "a,.b!c"),
              ElementsAre("a", ",.", "b", "!", "c"));
}

TEST(PreTokenizerTest, EmptyMatchesAndLiteralPatterns) {
  EXPECT_THAT(Split("[" + SplitStep("x*", "Isolated") + "]", "axxb"), ElementsAre("a", "xx", "b"));
  EXPECT_THAT(Split(R"([{"type": "Split", "pattern": {"String": "a.b"}, "behavior": "Isolated"}])",
                    "xa.bya+b"),
              ElementsAre("x", "a.b", "ya+b"));
}

TEST(PreTokenizerTest, SequenceSplitsEveryPiece) {
  // The second regex sees "  x" alone, so \s+(?!\S) stops before the last space.
  EXPECT_THAT(Split("[" + SplitStep("\\p{N}{1,3}", "Isolated") + "," +
                        SplitStep("\\s+(?!\\S)|\\s+", "Isolated") + "]",
                    "abc 12345  x"),
              ElementsAre("abc", " ", "123", "45", " ", " ", "x"));
}

TEST(PreTokenizerTest, ByteLevelWithRegexAndPrefixSpace) {
  EXPECT_THAT(Split(R"([{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}])",
                    "Hello world's 42"),
              ElementsAre(" Hello", " world", "'s", " 42"));
}

TEST(PreTokenizerTest, NonAsciiPiecesUseTheGeneralProgram) {
  // ASCII and non-ASCII pieces take different PCRE2 programs; both must split alike.
  const std::string steps = "[" + SplitStep("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\s+", "Isolated") + "]";
  EXPECT_THAT(Split(steps, " word,é word"), ElementsAre(" word", ",é", " word"));
  EXPECT_THAT(Split(steps, " word,e word"), ElementsAre(" word", ",e", " word"));
}

std::string LoadError(const nlohmann::json& json) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre = PreTokenizer::FromJson(json);
  EXPECT_FALSE(pre.ok());
  return std::string(pre.status().message());
}

TEST(PreTokenizerTest, Errors) {
  auto error = [](const std::string& json) { return LoadError(nlohmann::json::parse(json)); };
  EXPECT_THAT(error("null"), HasSubstr("no pre_tokenizer"));
  EXPECT_THAT(error(R"({"type": "Metaspace"})"), HasSubstr("\"Metaspace\" is unsupported"));
  EXPECT_THAT(error(R"({"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"},
                        {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated"}]})"),
              HasSubstr("must be the last"));
  EXPECT_THAT(error(R"({"type": "Sequence", "pretokenizers": [{"type": "Split",
                        "pattern": {"Regex": "a"}, "behavior": "Sideways"}, {"type": "ByteLevel"}]})"),
              HasSubstr("not a split behavior"));
  EXPECT_THAT(error(R"({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated"})"),
              HasSubstr("no ByteLevel"));
}

TEST(PreTokenizerTest, MissingOrMistypedFieldsAreErrors) {
  auto error = [](const std::string& json) { return LoadError(nlohmann::json::parse(json)); };
  EXPECT_THAT(error(R"({"type": "Sequence"})"), HasSubstr("pre_tokenizer.pretokenizers is not"));
  EXPECT_THAT(error(R"({"type": 5})"), HasSubstr("has no \"type\""));
  EXPECT_THAT(error(R"({"type": "Sequence", "pretokenizers": [[], {"type": "ByteLevel"}]})"),
              HasSubstr("pre_tokenizer.pretokenizers[0] has no \"type\""));
  EXPECT_THAT(error(R"({"type": "Sequence", "pretokenizers": [{"type": "Split",
                        "behavior": "Isolated"}, {"type": "ByteLevel"}]})"),
              HasSubstr("pattern is neither"));
  EXPECT_THAT(error(R"({"type": "Sequence", "pretokenizers": [{"type": "Split",
                        "pattern": {"Regex": 5}, "behavior": "Isolated"},
                        {"type": "ByteLevel"}]})"),
              HasSubstr("pattern is neither"));
  EXPECT_THAT(error(R"({"type": "Sequence", "pretokenizers": [{"type": "Split",
                        "pattern": {"Regex": "a"}}, {"type": "ByteLevel"}]})"),
              HasSubstr("behavior is missing or not a string"));
  EXPECT_THAT(error(R"({"type": "Sequence", "pretokenizers": [{"type": "Split",
                        "pattern": {"Regex": "a"}, "behavior": ["Isolated"]},
                        {"type": "ByteLevel"}]})"),
              HasSubstr("behavior is missing or not a string"));
  EXPECT_THAT(error(R"({"type": "ByteLevel", "use_regex": "yes"})"),
              HasSubstr("use_regex is not a boolean"));
}

// `levels` Sequences, each holding the next, around a ByteLevel step.
nlohmann::json NestedSequences(int levels) {
  std::string json;
  for (int i = 0; i < levels; ++i) json += R"({"type": "Sequence", "pretokenizers": [)";
  json += R"({"type": "ByteLevel"})";
  for (int i = 0; i < levels; ++i) json += "]}";
  return nlohmann::json::parse(json);
}

TEST(PreTokenizerTest, NestingAndLengthAreBounded) {
  EXPECT_TRUE(PreTokenizer::FromJson(NestedSequences(kMaxSequenceNesting)).ok());
  EXPECT_THAT(LoadError(NestedSequences(kMaxSequenceNesting + 1)),
              HasSubstr("nest more than 64 levels"));
  // Nesting used to cost quadratic time (80000 levels: 15 s).
  EXPECT_THAT(LoadError(NestedSequences(200000)), HasSubstr("nest more than 64 levels"));
  nlohmann::json steps = nlohmann::json::array();
  for (size_t i = 0; i <= PreTokenizer::kMaxSteps; ++i) {
    steps.push_back(nlohmann::json::parse(SplitStep("a", "Isolated")));
  }
  steps.push_back({{"type", "ByteLevel"}});
  EXPECT_THAT(LoadError({{"type", "Sequence"}, {"pretokenizers", steps}}),
              HasSubstr("more than 64 steps"));
}

TEST(PreTokenizerTest, SplitReportsARegexThatGivesUp) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre =
      PreTokenizer::FromJson(nlohmann::json::parse(R"({"type": "Sequence", "pretokenizers": [
          {"type": "Split", "pattern": {"Regex": "(?:a|aa)+$"}, "behavior": "Removed"},
          {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})"));
  ASSERT_TRUE(pre.ok()) << pre.status();
  absl::Status split =
      (*pre)->Split(std::string(60, 'a') + "!", [](std::string_view) { ADD_FAILURE(); });
  EXPECT_EQ(split.code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace r1serve::text
