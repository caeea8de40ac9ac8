// JSON Lines framing for r1serve-tokenize: reading stdin as lines, parsing one JSON string or
// one `{"ids":[...]}` object per line, and writing ids, strings and errors back as JSON.
//
//   LineReader reader(STDIN_FILENO);
//   std::string_view line;
//   while (reader.Next(&line)) {
//     absl::StatusOr<std::string> text = ParseTextLine(line);
//     ...
//     AppendIdsLine(ids, &out);
//   }
//
// The checks here are deliberately independent of lib/text: the tool is the harness that
// conformance tests use against the tokenizer, so it must not trust the tokenizer's own UTF-8
// helpers when it validates the tokenizer's output.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/text/tokenizer.h"

namespace r1serve::tools {

// Splits a file descriptor's bytes into lines ('\n' separated; a '\r' before it is left to the
// JSON parser, which treats it as whitespace). Reads in large blocks so that a multi-megabyte
// corpus costs a handful of syscalls, yet returns every complete line as soon as its block
// arrives, so a driver writing one line at a time and waiting for the answer does not deadlock.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}

  // Sets *line to the next line (valid until the next call) and returns true, or returns false
  // at end of input. A final line without '\n' is still returned; an empty tail is not.
  bool Next(std::string_view* line);
  // Runs right before every read() that may block: the moment to flush pending output.
  void set_before_read(std::function<void()> hook) { before_read_ = std::move(hook); }
  // Set when read() failed (not at plain end of input).
  const std::string& read_error() const { return read_error_; }

 private:
  int fd_;
  std::function<void()> before_read_;
  std::string buffer_;
  size_t start_ = 0;    // first unconsumed byte of buffer_
  size_t scanned_ = 0;  // bytes from start_ already known to hold no '\n'
  bool eof_ = false;
  std::string read_error_;
};

// Buffered writer to a file descriptor; write errors are sticky and reported by Flush().
class OutputWriter {
 public:
  explicit OutputWriter(int fd) : fd_(fd) {}
  std::string* buffer() { return &buffer_; }
  // Writes out the buffer when it has grown large, so memory stays bounded on huge inputs.
  bool MaybeFlush();
  bool Flush();

 private:
  int fd_;
  std::string buffer_;
};

// One input line of encode mode: a JSON string (any surrounding whitespace allowed).
absl::StatusOr<std::string> ParseTextLine(std::string_view line);
// One input line of decode mode: an object with an "ids" array of integers in int32 range.
absl::StatusOr<std::vector<text::TokenId>> ParseIdsLine(std::string_view line);

// Whether `bytes` is well-formed UTF-8 (no surrogates, no overlongs, nothing past U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

// Appends `bytes` as a JSON string literal. Control characters, '"' and '\' are escaped; any
// byte that is not part of well-formed UTF-8 becomes U+FFFD so the output is always valid JSON
// (callers that must not alter text check IsValidUtf8 first).
void AppendJsonString(std::string_view bytes, std::string* out);
// Appends `{"ids":[1,2,3]}\n`, byte-identical to JavaScript's JSON.stringify({ids}).
void AppendIdsLine(const std::vector<text::TokenId>& ids, std::string* out);
// Appends `{"error":"line N: message"}\n`.
void AppendErrorLine(size_t line_number, absl::string_view message, std::string* out);

}  // namespace r1serve::tools
