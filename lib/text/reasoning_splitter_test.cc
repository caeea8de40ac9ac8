#include "lib/text/reasoning_splitter.h"

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace r1serve::text {
namespace {

struct Split {
  std::string reasoning;
  std::string content;
  bool operator==(const Split&) const = default;
};

void PrintTo(const Split& s, std::ostream* os) {
  *os << "{reasoning: \"" << s.reasoning << "\", content: \"" << s.content << "\"}";
}

void Accumulate(const ReasoningDelta& delta, Split* total) {
  total->reasoning += delta.reasoning;
  total->content += delta.content;
}

// Pushes `text` cut at `cuts` (ascending byte offsets), then finishes.
Split SplitInPieces(bool starts_in_reasoning, std::string_view text,
                    const std::vector<size_t>& cuts = {}) {
  ReasoningSplitter splitter({.starts_in_reasoning = starts_in_reasoning});
  Split total;
  size_t from = 0;
  for (size_t cut : cuts) {
    Accumulate(splitter.Push(text.substr(from, cut - from)), &total);
    from = cut;
  }
  Accumulate(splitter.Push(text.substr(from)), &total);
  Accumulate(splitter.Finish(), &total);
  return total;
}

struct Sample {
  bool starts_in_reasoning;
  std::string text;
  Split expected;
};

const std::vector<Sample>& Samples() {
  static const auto* samples = new std::vector<Sample>{
      // R1: the prompt ended in "<think>\n".
      {true,
       "Okay, 2+2.\nIt is 4.\n</think>\n\nThe answer is 4.",
       {"Okay, 2+2.\nIt is 4.", "The answer is 4."}},
      {true, "\n\nthink\n\n</think>answer\n", {"think", "answer\n"}},
      {true, "</think>\n\nJust the answer.", {"", "Just the answer."}},
      {true, "<think>\nrepeated tag\n</think>\n\nA", {"repeated tag", "A"}},
      {true,
       "  indented\n\n  reasoning \n</think>\n\n  answer",
       {"  indented\n\n  reasoning ", "  answer"}},
      {true, "cut off by max_tokens\n\n", {"cut off by max_tokens\n\n", ""}},
      {true, "cut off in a tag </thi", {"cut off in a tag </thi", ""}},
      {true,
       "a </thin> b <think> c </think> d </think> e",
       {"a </thin> b <think> c ", " d </think> e"}},
      {true, "", {"", ""}},
      {true, "\n", {"", ""}},
      {true, " ", {" ", ""}},
      {true, "<thi", {"<thi", ""}},
      {true, "x</think></think>", {"x", "</think>"}},
      {true, "<</think>>", {"<", ">"}},
      {true, "推理：😀\n</think>\n\n答案：4", {"推理：😀", "答案：4"}},
      // Qwen3 and older R1 templates: the model opens the block itself.
      {false, "<think>\nLet me see.\n</think>\n\nSure.", {"Let me see.", "Sure."}},
      {false, " \n\t<think>x</think>y", {"x", "y"}},
      {false, "<think>\n\n</think>\n\nNo thinking needed.", {"", "No thinking needed."}},
      {false,
       "Plain answer with a <think> tag and </think> inside.",
       {"", "Plain answer with a <think> tag and </think> inside."}},
      {false, "  leading spaces, no block", {"", "  leading spaces, no block"}},
      {false, "\n\n", {"", "\n\n"}},
      {false, "<thin", {"", "<thin"}},
      {false, "<thinking>", {"", "<thinking>"}},
      {false, "<think>never closed\n", {"never closed\n", ""}},
      {false, "<think><think>x</think>", {"<think>x", ""}},
      {false, "", {"", ""}},
  };
  return *samples;
}

TEST(ReasoningSplitter, SamplesInOnePush) {
  for (const Sample& s : Samples()) {
    EXPECT_EQ(SplitInPieces(s.starts_in_reasoning, s.text), s.expected)
        << "text: \"" << s.text << "\" starts_in_reasoning=" << s.starts_in_reasoning;
  }
}

TEST(ReasoningSplitter, EverySplitPositionGivesTheSameResult) {
  for (const Sample& s : Samples()) {
    for (size_t i = 0; i <= s.text.size(); ++i) {
      EXPECT_EQ(SplitInPieces(s.starts_in_reasoning, s.text, {i}), s.expected)
          << "text: \"" << s.text << "\" cut at " << i;
      for (size_t j = i; j <= s.text.size(); ++j) {
        EXPECT_EQ(SplitInPieces(s.starts_in_reasoning, s.text, {i, j}), s.expected)
            << "text: \"" << s.text << "\" cut at " << i << " and " << j;
      }
    }
  }
}

TEST(ReasoningSplitter, ByteByByte) {
  for (const Sample& s : Samples()) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < s.text.size(); ++i) cuts.push_back(i);
    EXPECT_EQ(SplitInPieces(s.starts_in_reasoning, s.text, cuts), s.expected)
        << "text: \"" << s.text << "\"";
  }
}

TEST(ReasoningSplitter, HoldsBackOnlyWhatMayBeATagOrLayout) {
  ReasoningSplitter splitter({.starts_in_reasoning = true});
  ReasoningDelta d = splitter.Push("step one\n</th");
  EXPECT_EQ(d.reasoning, "step one");  // "\n</th" may still close the block
  EXPECT_EQ(d.content, "");
  d = splitter.Push("en");  // "</then": not the tag after all
  EXPECT_EQ(d.reasoning, "\n</then");
  d = splitter.Push(" more</think>\n");
  EXPECT_EQ(d.reasoning, " more");
  EXPECT_EQ(d.content, "");
  EXPECT_FALSE(splitter.in_reasoning());
  d = splitter.Push("\nAnswer");
  EXPECT_EQ(d.content, "Answer");
  d = splitter.Push(" <think>");
  EXPECT_EQ(d.content, " <think>");  // the answer's own text, not a tag
}

TEST(ReasoningSplitter, InReasoningFollowsTheBlock) {
  ReasoningSplitter opened_by_model;
  EXPECT_FALSE(opened_by_model.in_reasoning());
  opened_by_model.Push("<think>");
  EXPECT_TRUE(opened_by_model.in_reasoning());
  opened_by_model.Push("x</think>");
  EXPECT_FALSE(opened_by_model.in_reasoning());

  ReasoningSplitter opened_by_prompt({.starts_in_reasoning = true});
  EXPECT_TRUE(opened_by_prompt.in_reasoning());
}

TEST(ReasoningSplitter, FinishResetsForTheNextOutput) {
  ReasoningSplitter splitter({.starts_in_reasoning = true});
  splitter.Push("a</think>b");
  splitter.Finish();
  EXPECT_TRUE(splitter.in_reasoning());
  Split total;
  Accumulate(splitter.Push("c</think>d"), &total);
  Accumulate(splitter.Finish(), &total);
  EXPECT_EQ(total, (Split{"c", "d"}));
}

TEST(ReasoningSplitter, LongOutputInTinyPieces) {
  std::string reasoning, text;
  for (int i = 0; i < 20000; ++i) reasoning += "step " + std::to_string(i) + " <\n";
  text = reasoning + "</think>\n\nok";
  ReasoningSplitter splitter({.starts_in_reasoning = true});
  Split total;
  for (size_t i = 0; i < text.size(); i += 3) Accumulate(splitter.Push(text.substr(i, 3)), &total);
  Accumulate(splitter.Finish(), &total);
  reasoning.pop_back();  // the newline before </think>
  EXPECT_EQ(total, (Split{reasoning, "ok"}));
}

}  // namespace
}  // namespace r1serve::text
