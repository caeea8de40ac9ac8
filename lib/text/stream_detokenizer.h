// Streaming detokenizer: turns generated token ids into text as they arrive, returning only the
// text that became final with each push. A token may end in the middle of a UTF-8 character
// (byte-level BPE splits emoji and CJK across tokens); those bytes are held back until the
// character completes, or until it proves invalid.
//
//   StreamDetokenizer detok(*tokenizer, /*skip_special_tokens=*/true);
//   for (TokenId id : generated) {
//     ASSIGN_OR_RETURN(std::string piece, detok.Push(id));
//     Send(piece);  // possibly empty
//   }
//   Send(detok.Finish());
//
// Contract: the concatenation of every Push and the Finish output equals
// tokenizer.Decode(all ids, skip_special_tokens), byte for byte, including Hugging Face's lossy
// repair of invalid UTF-8 (each maximal invalid subpart becomes one U+FFFD). Each push costs time
// proportional to the bytes of its tokens: the history is never decoded again.
//
// Not thread-safe: one instance per stream. The Tokenizer must outlive it.
#pragma once

#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "lib/text/tokenizer.h"

namespace r1serve::text {

class StreamDetokenizer {
 public:
  StreamDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens);

  // Appends tokens and returns the text they completed. An id outside the vocabulary is an
  // OutOfRange error naming it, and then none of `ids` is taken: the stream is as before.
  absl::StatusOr<std::string> Push(TokenId id);
  absl::StatusOr<std::string> Push(std::span<const TokenId> ids);

  // Ends the stream: returns the held-back bytes of an unfinished character, repaired to U+FFFD
  // as Decode would at the end of the text. The detokenizer is then empty and may start a new
  // stream.
  std::string Finish();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  // Bytes of a UTF-8 sequence that has begun well-formed but is not yet complete (at most 3).
  std::string pending_;
};

}  // namespace r1serve::text
