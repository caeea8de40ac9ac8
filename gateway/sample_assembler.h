// Turns one sample's stream from decode (token ids, finish reason, stop string) plus the text
// the tokenizer service detokenized for it into the SampleDeltas a Generate or Chat client
// receives: stop strings held back and cut (StopStringHoldback, one per text channel), the
// stopping token's text left out, token counts kept for Usage. No sockets
// (sample_assembler_test.cc).
//
//   SampleAssembler sample(/*index=*/0, request.sampling().stop());
//   int text_ids = SampleAssembler::TextTokenCount(token_delta);   // detokenize these ids
//   v1::SampleDelta out = sample.Assemble(token_delta, DetokenizedText{reasoning, content, n});
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/stop_string_holdback.h"
#include "r1serve/v1/decode.pb.h"
#include "r1serve/v1/gateway.pb.h"

namespace r1serve::gateway {

// What the Detokenize stream returned for some ids of one sample (for a sample's last delta,
// its final flush included).
struct DetokenizedText {
  std::string reasoning;
  std::string content;
  uint32_t reasoning_tokens = 0;
};

class SampleAssembler {
 public:
  template <typename Stops>
  SampleAssembler(uint32_t index, const Stops& stops)
      : index_(index),
        reasoning_(std::vector<std::string>(stops.begin(), stops.end())),
        content_(std::vector<std::string>(stops.begin(), stops.end())) {}

  // How many leading ids of `delta` to detokenize: all but the stopping token when the sample
  // ended on EOS or a stop token id (gateway.proto: the stopping token stays in the ids, its
  // text is not emitted).
  static int TextTokenCount(const v1::TokenDelta& delta);

  // The client's delta for decode's `delta`, whose text ids produced `text`.
  v1::SampleDelta Assemble(const v1::TokenDelta& delta, const DetokenizedText& text);

  bool finished() const { return finished_; }
  uint32_t completion_tokens() const { return completion_tokens_; }
  uint32_t reasoning_tokens() const { return reasoning_tokens_; }

 private:
  void Finish(const v1::TokenDelta& delta, const DetokenizedText& text, v1::SampleDelta* out);

  uint32_t index_;
  StopStringHoldback reasoning_;
  StopStringHoldback content_;
  bool finished_ = false;
  uint32_t completion_tokens_ = 0;
  uint32_t reasoning_tokens_ = 0;
};

}  // namespace r1serve::gateway
