// The gateway's calls to the tokenizer service: Encode and ApplyChatTemplate for prompts, and
// one Detokenize stream per sample for the generated text (split into reasoning and answer by
// the tokenizer service, which also counts the reasoning tokens).
//
// Blocking calls, made from the request's own worker thread (see gateway_service.h for why):
//
//   TokenizerClient tokenizer(channel);
//   ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.Encode(scope, "", "Hello", true));
//   DetokenizeStream text(&tokenizer, &scope, options);
//   ASSIGN_OR_RETURN(DetokenizedText piece, text.Push(ids));
//   ASSIGN_OR_RETURN(DetokenizedText rest, text.Finish());
#pragma once

#include <grpcpp/channel.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "gateway/call_scope.h"
#include "gateway/sample_assembler.h"
#include "r1serve/v1/tokenizer.grpc.pb.h"

namespace r1serve::gateway {

class TokenizerClient {
 public:
  explicit TokenizerClient(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::TokenizerService::NewStub(channel)) {}

  absl::StatusOr<std::vector<int32_t>> Encode(CallScope& scope, const std::string& model,
                                              const std::string& text, bool add_special_tokens);

  // With add_generation_prompt and tokenize set by the caller.
  absl::StatusOr<v1::ApplyChatTemplateResponse> ApplyChatTemplate(
      CallScope& scope, const v1::ApplyChatTemplateRequest& request);

  // Each id decoded on its own (TopLogprob.text: a byte-level piece of a multi-byte character
  // is U+FFFD), in order. Cached: a vocabulary's pieces never change, so after warm-up the
  // alternatives of logprobs cost no call.
  absl::StatusOr<std::vector<std::string>> TokenTexts(CallScope& scope, const std::string& model,
                                                      absl::Span<const int32_t> ids);

  v1::TokenizerService::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<v1::TokenizerService::Stub> stub_;
  absl::Mutex cache_mu_;
  absl::flat_hash_map<std::pair<std::string, int32_t>, std::string> token_texts_
      ABSL_GUARDED_BY(cache_mu_);
};

// One sample's Detokenize stream: one response per request, so each Push is one round trip.
// Opened on the first Push; errors name the tokenizer service.
class DetokenizeStream {
 public:
  DetokenizeStream(TokenizerClient* client, CallScope* scope, v1::DetokenizeOptions options)
      : client_(client), scope_(scope), options_(std::move(options)) {}
  // Cancels the stream if it is still open (the request failed or was cancelled).
  ~DetokenizeStream();
  DetokenizeStream(const DetokenizeStream&) = delete;
  DetokenizeStream& operator=(const DetokenizeStream&) = delete;

  absl::StatusOr<DetokenizedText> Push(absl::Span<const int32_t> ids);
  // Half-closes and returns the flushed rest; the stream is done after this.
  absl::StatusOr<DetokenizedText> Finish();

 private:
  absl::Status Open();
  absl::Status Failed(absl::string_view during);

  TokenizerClient* client_;
  CallScope* scope_;
  v1::DetokenizeOptions options_;
  grpc::ClientContext* context_ = nullptr;
  std::unique_ptr<grpc::ClientReaderWriter<v1::DetokenizeRequest, v1::DetokenizeResponse>> stream_;
  bool options_sent_ = false;
};

}  // namespace r1serve::gateway
