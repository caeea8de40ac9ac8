#include "lib/text/reasoning_splitter.h"

#include <algorithm>
#include <string>
#include <string_view>

namespace r1serve::text {
namespace {

constexpr std::string_view kOpenTag = "<think>";
constexpr std::string_view kCloseTag = "</think>";

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Length of the longest suffix of `text` that is a proper prefix of `tag`: the part that a later
// push may turn into the tag.
size_t PartialTagLength(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n) {
    if (tag.starts_with(text.substr(text.size() - n))) return n;
  }
  return 0;
}

}  // namespace

ReasoningSplitter::ReasoningSplitter(ReasoningSplitterOptions options) : options_(options) {
  Reset();
}

void ReasoningSplitter::Reset() {
  state_ = State::kStart;
  leading_whitespace_.clear();
  partial_tag_.clear();
  at_block_start_ = true;
  held_newlines_ = 0;
}

bool ReasoningSplitter::in_reasoning() const {
  return state_ == State::kReasoning || (state_ == State::kStart && options_.starts_in_reasoning);
}

ReasoningDelta ReasoningSplitter::Push(std::string_view text) {
  ReasoningDelta out;
  // The held tag prefix is shorter than a tag, so re-reading it keeps the cost linear.
  std::string buffer = std::move(partial_tag_);
  partial_tag_.clear();
  buffer.append(text);
  Consume(buffer, &out);
  return out;
}

void ReasoningSplitter::Consume(std::string_view text, ReasoningDelta* out) {
  while (!text.empty()) {
    switch (state_) {
      case State::kStart: {
        size_t blank = 0;
        while (blank < text.size() && IsBlank(text[blank])) ++blank;
        leading_whitespace_.append(text.substr(0, blank));
        text.remove_prefix(blank);
        if (text.empty()) return;
        if (text.starts_with(kOpenTag)) {
          text.remove_prefix(kOpenTag.size());
          leading_whitespace_.clear();
          state_ = State::kReasoning;
          break;
        }
        if (kOpenTag.starts_with(text)) {  // maybe the tag, cut short
          partial_tag_ = std::string(text);
          return;
        }
        std::string whitespace = std::move(leading_whitespace_);
        leading_whitespace_.clear();
        if (options_.starts_in_reasoning) {
          state_ = State::kReasoning;
          EmitReasoning(whitespace, out);
        } else {
          state_ = State::kAnswer;
          out->content.append(whitespace);
        }
        break;
      }
      case State::kReasoning: {
        const size_t close = text.find(kCloseTag);
        if (close == std::string_view::npos) {
          const size_t hold = PartialTagLength(text, kCloseTag);
          EmitReasoning(text.substr(0, text.size() - hold), out);
          partial_tag_ = std::string(text.substr(text.size() - hold));
          return;
        }
        EmitReasoning(text.substr(0, close), out);
        held_newlines_ = 0;  // the newlines before "</think>" are layout, not reasoning
        text.remove_prefix(close + kCloseTag.size());
        state_ = State::kAnswerStart;
        break;
      }
      case State::kAnswerStart: {
        const size_t body = text.find_first_not_of('\n');
        if (body == std::string_view::npos) return;
        text.remove_prefix(body);
        state_ = State::kAnswer;
        break;
      }
      case State::kAnswer:
        out->content.append(text);
        return;
    }
  }
}

void ReasoningSplitter::EmitReasoning(std::string_view text, ReasoningDelta* out) {
  if (at_block_start_) {
    const size_t body = text.find_first_not_of('\n');
    if (body == std::string_view::npos) return;
    text.remove_prefix(body);
    at_block_start_ = false;
  }
  const size_t last = text.find_last_not_of('\n');
  if (last == std::string_view::npos) {  // only newlines: their fate depends on what follows
    held_newlines_ += text.size();
    return;
  }
  out->reasoning.append(held_newlines_, '\n');
  out->reasoning.append(text.substr(0, last + 1));
  held_newlines_ = text.size() - (last + 1);
}

ReasoningDelta ReasoningSplitter::Finish() {
  ReasoningDelta out;
  if (state_ == State::kStart) {
    // The output ended while the block could still have opened: what was held is plain text.
    std::string rest = leading_whitespace_ + partial_tag_;
    partial_tag_.clear();
    if (options_.starts_in_reasoning) {
      state_ = State::kReasoning;
      EmitReasoning(rest, &out);
    } else {
      out.content = std::move(rest);
    }
  }
  if (state_ == State::kReasoning) {
    out.reasoning.append(held_newlines_, '\n');
    out.reasoning.append(partial_tag_);
  }
  Reset();
  return out;
}

}  // namespace r1serve::text
