// One Generate or Chat request, from prompt to final message: template and tokenize (tokenizer
// service), route (InstancePool + Router), stream decode's tokens, detokenize each sample
// (one Detokenize stream per sample), assemble the client's deltas (SampleAssembler) and end
// with usage and timing. A failure before the first token is retried once elsewhere (another
// prefill instance; another decode instance when decode itself was unreachable); after tokens
// have gone out, a failure ends the stream with a status naming what broke, never with text
// silently cut short.
//
//   GenerationPipeline pipeline(deps, &scope, received_at, &sink);
//   grpc::Status status = pipeline.RunGenerate(request);   // blocks; sink gets each message
#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/call_scope.h"
#include "gateway/gateway_metrics.h"
#include "gateway/instance_pool.h"
#include "gateway/reward_client.h"
#include "gateway/routing_policy.h"
#include "gateway/sample_assembler.h"
#include "gateway/tokenizer_client.h"
#include "r1serve/v1/decode.grpc.pb.h"
#include "r1serve/v1/gateway.pb.h"

namespace r1serve::gateway {

// What a pipeline calls; all outlive it.
struct PipelineDeps {
  TokenizerClient* tokenizer = nullptr;
  InstancePool* decode = nullptr;
  InstancePool* prefill = nullptr;  // null: colocated (decode instances prefill themselves)
  const Router* router = nullptr;
  GatewayMetrics* metrics = nullptr;
  RewardClient* reward = nullptr;  // Rollout's scorer; null: no --reward_endpoint
};

// Where the pipeline's messages go (the server reactor's write queue).
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // Queues one message; false when the client is gone and the request should stop.
  virtual bool Send(v1::GatewayGenerateResponse response) = 0;
};

// A prompt ready for decode.
struct PreparedPrompt {
  std::vector<int32_t> token_ids;
  bool split_reasoning = false;
  bool starts_in_reasoning = false;
  int64_t tokenize_us = 0;
};

class GenerationPipeline {
 public:
  GenerationPipeline(PipelineDeps deps, CallScope* scope, absl::Time received, ResponseSink* sink)
      : deps_(deps), scope_(scope), received_(received), sink_(sink) {}

  grpc::Status RunGenerate(const v1::GatewayGenerateRequest& request);
  grpc::Status RunChat(const v1::ChatRequest& request);

 private:
  // One decode Generate call and what became of it.
  struct Attempt {
    grpc::Status status;
    bool sent_tokens = false;         // tokens reached the client: no retry
    bool decode_unreachable = false;  // the failure was decode's own connection
    bool gateway_side = false;  // the failure was the tokenizer's or the client's, not decode's
    uint64_t tokens = 0;
  };
  struct Sample {
    Sample(uint32_t index, const v1::SamplingParams& sampling, TokenizerClient* tokenizer,
           CallScope* scope, v1::DetokenizeOptions options)
        : assembler(index, sampling.stop()), text(tokenizer, scope, std::move(options)) {}
    SampleAssembler assembler;
    DetokenizeStream text;
    absl::Time last_token = absl::InfinitePast();
  };

  absl::StatusOr<PreparedPrompt> PrepareGenerate(const v1::GatewayGenerateRequest& request);
  absl::StatusOr<PreparedPrompt> PrepareChat(const v1::ChatRequest& request);
  grpc::Status Generate(const std::string& model, const PreparedPrompt& prompt,
                        const v1::SamplingParams& sampling);
  // `prefill` (the lease on prefill_endpoint, if any) is released once tokens flow.
  Attempt RunAttempt(const std::string& model, const PreparedPrompt& prompt,
                     const v1::SamplingParams& sampling, const InstancePool::Lease& decode,
                     const std::string& prefill_endpoint,
                     std::optional<InstancePool::Lease>& prefill);
  // Turns one decode message into the client's message; false with `error` set on failure.
  bool Translate(const v1::GenerateResponse& in, std::vector<std::unique_ptr<Sample>>& samples,
                 v1::GatewayGenerateResponse* out, absl::Status* error);
  // Fills TopLogprob.text of every alternative in `out`.
  absl::Status FillTopLogprobText(v1::GatewayGenerateResponse* out);
  void FillFinal(v1::GatewayGenerateResponse* out,
                 const std::vector<std::unique_ptr<Sample>>& samples, uint32_t prompt_tokens);
  grpc::Status Status(const absl::Status& status) const;

  PipelineDeps deps_;
  CallScope* scope_;
  absl::Time received_;
  ResponseSink* sink_;
  std::string request_id_;
  std::string model_;
  int64_t tokenize_us_ = 0;
  int64_t first_token_us_ = 0;
  v1::Usage decode_usage_;
  v1::TimingBreakdown decode_timing_;
};

}  // namespace r1serve::gateway
