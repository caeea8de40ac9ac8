// StopStringMatcher: watches a sample's generated text as it streams in (one detokenized piece
// per token) for the first occurrence of any SamplingParams.stop string, and says how much of the
// text is final, i.e. can be sent to the client now without risk that a stop string which has
// only begun to appear will later have to be cut out of it.
//
//   StopStringMatcher matcher(params.stop);
//   std::string text;   // the sample's text so far
//   size_t sent = 0;
//   for (TokenId id : generated) {
//     ASSIGN_OR_RETURN(std::string piece, detokenizer.Push(id));
//     text += piece;
//     StopStringMatcher::Progress p = matcher.Append(piece, sampler.stop_strings_active());
//     Send(text.substr(sent, p.safe_end - sent));
//     sent = p.safe_end;
//     if (p.stopped) return Finish(FinishReason::kStopString);   // text ends at p.safe_end
//   }
//   Send(text.substr(sent));   // ended otherwise: everything is final
//
// Contract:
// - The sample stops at the earliest END of a stop string occurrence in the text (the first
//   moment the text "contains" one), wherever the token boundaries fall: a stop string may span
//   any number of pieces. Of several stop strings ending there, the longest (earliest start)
//   wins; of duplicates, the first listed. The text is cut where that occurrence starts: the stop
//   string and everything after it are dropped, including the rest of the piece that completed it.
// - safe_end never decreases. Until a stop, the bytes held back (text_bytes() - safe_end) are the
//   longest suffix of the text that is a proper beginning of some stop string, so fewer than the
//   longest stop string's length. On valid UTF-8 text and stop strings the cut and safe_end fall
//   on character boundaries.
// - Matching is on bytes, with no normalization: "Stop" does not match "stop".
// - Time is O(bytes appended) over the whole stream (Aho-Corasick); memory O(total stop bytes).
// - Occurrences that end while `may_stop` is false (before min_tokens) are not stops and are
//   emitted as text, but a stop string that begins then and ends later does stop the sample.
//
// Copyable: a copy continues independently from the same point (a forked sample). The automaton
// is shared between copies and immutable. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace r1serve::engine {

class StopStringMatcher {
 public:
  // `stop_strings` as in SamplingParams.stop (validated there: non-empty, bounded). Empty
  // strings are ignored. No stop strings: nothing is held back and nothing stops.
  explicit StopStringMatcher(std::span<const std::string> stop_strings);

  struct Progress {
    // The text's bytes [0, safe_end) are final. When stopped, the text ends here: it is where the
    // stop string begins.
    size_t safe_end = 0;
    bool stopped = false;
    // Which of the stop strings matched; -1 unless stopped.
    int stop_index = -1;
  };

  // Appends the next piece of text. After a stop, further pieces change nothing.
  Progress Append(std::string_view piece, bool may_stop = true);

  const Progress& progress() const { return progress_; }
  // Bytes appended so far (including any appended after a stop).
  size_t text_bytes() const { return text_bytes_; }

 private:
  struct Automaton;
  std::shared_ptr<const Automaton> automaton_;
  int32_t state_ = 0;  // automaton node: the longest suffix of the text that begins a stop string
  size_t text_bytes_ = 0;
  Progress progress_;
};

}  // namespace r1serve::engine
