// Holds generated text back while it could still be the start of a stop string, so that the
// text a client receives never contains the stop string that ends a sample (gateway.proto:
// "the gateway holds text back while it could still be the start of a stop string"). Decode
// matches the stop strings and says which one ended the sample; this cuts the text there.
//
//   StopStringHoldback holdback({"\n\n", "END"});
//   send(holdback.Push("the answer is 4\n"));   // "the answer is 4" ("\n" is held)
//   // decode ends the sample at "\n\n"; the last token's text was "\nmore":
//   bool found;
//   send(holdback.Finish("\nmore", "\n\n", &found));   // "": the text ends before the stop
//
// Held text is always a suffix that is a prefix of some stop string, so what Push returns ends
// on a UTF-8 character boundary whenever its input does (stop strings are whole characters).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace r1serve::gateway {

class StopStringHoldback {
 public:
  explicit StopStringHoldback(std::vector<std::string> stops);

  // Appends `text` and returns what can be sent now.
  std::string Push(std::string_view text);

  // The sample ended; `last_text` is the text of its last tokens (not pushed). With an empty
  // `stop`, returns everything held plus `last_text`. With a stop string: that text cut before
  // the first occurrence of `stop`, and *found = true; when it does not contain `stop` (decode
  // and the gateway detokenized differently), all of it and *found = false.
  std::string Finish(std::string_view last_text, std::string_view stop, bool* found);

  // Whether `stop` occurs in the held text followed by `last_text` (Finish's search, without
  // consuming anything).
  bool WouldFind(std::string_view last_text, std::string_view stop) const;

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace r1serve::gateway
