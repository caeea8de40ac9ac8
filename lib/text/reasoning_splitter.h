// Reasoning splitter: separates a reasoning model's streamed output into its reasoning (the
// <think>…</think> block) and its answer (what follows), as the DeepSeek API's reasoning_content
// and content. Text arrives in arbitrary pieces; a tag split across pieces is still found, and
// only a possible tag prefix (or newlines whose fate is not yet known, see below) is held back.
//
//   ReasoningSplitter splitter({.starts_in_reasoning = true});  // R1's prompt ends in "<think>\n"
//   for (const std::string& piece : detokenized_pieces) {
//     ReasoningDelta delta = splitter.Push(piece);
//     Send(delta.reasoning, delta.content);  // either may be empty
//   }
//   ReasoningDelta last = splitter.Finish();
//
// What goes where (the same for every way of cutting the text into pieces):
// - The tags themselves are never output.
// - The block opens with a "<think>" at the start of the output, after optional whitespace (both
//   dropped). With starts_in_reasoning the block is already open (R1's template put "<think>\n"
//   in the prompt); a "<think>" the model repeats at the start is dropped all the same.
// - Without starts_in_reasoning, an output that starts with anything else has no reasoning: all
//   of it, whitespace included, is answer, and tags later in it are answer text too.
// - Reasoning is the block's text with the newlines at both ends dropped (the "<think>\n" …
//   "\n</think>" layout of R1 and Qwen3), other whitespace kept.
// - After "</think>", leading newlines are dropped (the "\n\n" before the answer) and the rest is
//   answer verbatim: a second <think> block is not interpreted.
// - Finish with the block still open (output cut by max_tokens, or a missing "</think>"): all
//   the text is reasoning (leading newlines still dropped) and the answer is empty, as in the
//   DeepSeek API; held-back text (trailing newlines, a partial "</think>") is flushed into it.
// It works on bytes and cuts only at the ASCII tags and newlines besides the push boundaries, so
// pieces of whole UTF-8 characters (a StreamDetokenizer's output) give whole characters.
// Cost: linear in the text pushed. Not thread-safe: one instance per stream.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace r1serve::text {

struct ReasoningSplitterOptions {
  // True when the prompt already opened the think block (DeepSeek-R1 and R1-Distill templates).
  bool starts_in_reasoning = false;
};

// Text newly assigned to each side by one Push or Finish.
struct ReasoningDelta {
  std::string reasoning;
  std::string content;
};

class ReasoningSplitter {
 public:
  explicit ReasoningSplitter(ReasoningSplitterOptions options = {});

  ReasoningDelta Push(std::string_view text);

  // Flushes what was held back; the splitter is then back at its initial state.
  ReasoningDelta Finish();

  // Whether text pushed now would be reasoning (the block is open, or may still open).
  bool in_reasoning() const;

 private:
  enum class State {
    kStart,        // before any text but whitespace: the block may open here
    kReasoning,    // inside the block, looking for "</think>"
    kAnswerStart,  // just after "</think>": dropping newlines
    kAnswer,       // everything is answer
  };

  void Consume(std::string_view text, ReasoningDelta* out);
  void EmitReasoning(std::string_view text, ReasoningDelta* out);
  void Reset();

  ReasoningSplitterOptions options_;
  State state_;
  std::string leading_whitespace_;  // kStart: whitespace seen so far
  std::string partial_tag_;         // a proper prefix of the tag being looked for, held back
  bool at_block_start_;             // kReasoning: no reasoning text output yet (drop newlines)
  size_t held_newlines_;            // kReasoning: newlines dropped if "</think>" comes next
};

}  // namespace r1serve::text
