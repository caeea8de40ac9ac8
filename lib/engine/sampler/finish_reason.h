// Why a sample stopped: the engine's form of r1serve.v1.FinishReason (the service layer maps it
// one to one). Shared by the sampler, which decides the token-level reasons, and whoever drives
// sequences (scheduler, services), which adds the rest.
//
//   ASSIGN_OR_RETURN(FinishReason why, sampler.Append(token));
//   if (why != FinishReason::kNone) Finish(sequence, why);
#pragma once

#include <string_view>

namespace r1serve::engine {

enum class FinishReason {
  kNone = 0,           // not finished (proto: FINISH_REASON_UNSPECIFIED)
  kEos = 1,            // the model produced one of its EOS tokens
  kStopToken = 2,      // a token of SamplingParams.stop_token_ids
  kStopString = 3,     // the text reached one of SamplingParams.stop
  kLength = 4,         // max_tokens tokens were generated
  kContextLength = 5,  // prompt plus generated tokens filled the context window
  kCancelled = 6,      // the client cancelled or the deadline passed
  kError = 7,          // this sample failed
};

// "eos", "stop_token", ... for logs and metrics labels.
constexpr std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kStopToken:
      return "stop_token";
    case FinishReason::kStopString:
      return "stop_string";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kContextLength:
      return "context_length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "unknown";
}

}  // namespace r1serve::engine
