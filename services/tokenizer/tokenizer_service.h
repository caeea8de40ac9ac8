// The gRPC TokenizerService (proto/r1serve/v1/tokenizer.proto) over lib/text: translates
// messages to lib/text calls and back, checks limits, and counts what it does. All the
// tokenization logic lives in lib/text.
//
//   ASSIGN_OR_RETURN(ServedTokenizer served, LoadServedTokenizer("r1", "/models/r1"));
//   TokenizerService service(&host, std::move(served), TokenizerLimits{});
//   host.AddService(&service);
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/rpc/handler_pool.h"
#include "lib/rpc/service_host.h"
#include "lib/text/tokenizer.h"
#include "r1serve/v1/tokenizer.grpc.pb.h"

namespace r1serve::services {

// A loaded tokenizer and the name clients ask for it by.
struct ServedTokenizer {
  std::string model_name;
  std::string fingerprint;  // SHA-256 of tokenizer.json
  std::unique_ptr<const text::Tokenizer> tokenizer;
};

// `path` is a tokenizer.json file or a folder holding tokenizer.json; tokenizer_config.json is
// taken from `config_path` when given, else from beside tokenizer.json when it exists.
absl::StatusOr<ServedTokenizer> LoadServedTokenizer(std::string model_name, const std::string& path,
                                                    const std::string& config_path);

// Request size limits and the work pool. Oversize requests are INVALID_ARGUMENT naming the
// limit before any work; a response that would exceed max_response_bytes is RESOURCE_EXHAUSTED,
// decided from the token lengths before the text is built.
struct TokenizerLimits {
  int64_t max_text_bytes = int64_t{8} << 20;  // one text (Encode, CountTokens, rendered chat)
  int64_t max_batch_items = 4096;             // EncodeBatch texts, DecodeBatch sequences, messages
  int64_t max_token_ids = int64_t{1} << 22;   // ids in one Decode or DecodeBatch request
  int64_t max_stream_message_ids = 65536;     // ids in one Detokenize message
  int64_t max_response_bytes = int64_t{60} << 20;  // under the server's max message size
  // A Detokenize stream silent this long is cancelled, so that abandoned streams do not hold
  // admission slots forever.
  absl::Duration stream_idle_timeout = absl::Seconds(120);
  int worker_threads = 0;            // unary work pool; 0 = one per hardware thread
  size_t max_queued_requests = 256;  // beyond this, RESOURCE_EXHAUSTED at once
};

class TokenizerService final : public v1::TokenizerService::CallbackService {
 public:
  TokenizerService(rpc::ServiceHost* host, ServedTokenizer served, TokenizerLimits limits);
  ~TokenizerService() override;

  grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* context,
                                   const v1::EncodeRequest* request,
                                   v1::EncodeResponse* response) override;
  grpc::ServerUnaryReactor* EncodeBatch(grpc::CallbackServerContext* context,
                                        const v1::EncodeBatchRequest* request,
                                        v1::EncodeBatchResponse* response) override;
  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* context,
                                   const v1::TokenizerDecodeRequest* request,
                                   v1::TokenizerDecodeResponse* response) override;
  grpc::ServerUnaryReactor* DecodeBatch(grpc::CallbackServerContext* context,
                                        const v1::TokenizerDecodeBatchRequest* request,
                                        v1::TokenizerDecodeBatchResponse* response) override;
  grpc::ServerUnaryReactor* ApplyChatTemplate(grpc::CallbackServerContext* context,
                                              const v1::ApplyChatTemplateRequest* request,
                                              v1::ApplyChatTemplateResponse* response) override;
  grpc::ServerUnaryReactor* CountTokens(grpc::CallbackServerContext* context,
                                        const v1::CountTokensRequest* request,
                                        v1::CountTokensResponse* response) override;
  grpc::ServerBidiReactor<v1::DetokenizeRequest, v1::DetokenizeResponse>* Detokenize(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::TokenizerInfoRequest* request,
                                 v1::TokenizerInfoResponse* response) override;

 private:
  friend class DetokenizeReactor;

  // The tokenizer a request's `model` names: NOT_FOUND for a name this server does not serve.
  absl::StatusOr<const text::Tokenizer*> Resolve(const std::string& model) const;
  // Admission, then `handler` (which fills the response), then Finish with its status.
  template <typename Handler>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, Handler handler);

  absl::Status CheckText(std::string_view text) const;
  // Encode, counted in the service's metrics.
  absl::StatusOr<std::vector<text::TokenId>> EncodeCounted(const text::Tokenizer& tokenizer,
                                                           std::string_view text,
                                                           bool add_special_tokens);
  absl::Status CheckIds(const google::protobuf::RepeatedField<int32_t>& ids,
                        const text::Tokenizer& tokenizer) const;
  absl::Status CheckResponseBytes(int64_t bytes) const;
  // `count` items (texts, sequences, messages) against max_batch_items.
  absl::Status CheckCount(int64_t count, absl::string_view what) const;
  // Resolve, size check and counted encode of an EncodeRequest or CountTokensRequest.
  template <typename Request>
  absl::StatusOr<std::vector<text::TokenId>> EncodeOne(const Request& request);
  // Decode, counted in the service's metrics.
  absl::StatusOr<std::string> DecodeCounted(const text::Tokenizer& tokenizer,
                                            const google::protobuf::RepeatedField<int32_t>& ids,
                                            bool skip_special_tokens);
  // Bytes the ids decode to, before UTF-8 repair.
  static int64_t DecodedBytes(const google::protobuf::RepeatedField<int32_t>& ids,
                              const text::Tokenizer& tokenizer, bool skip_special);

  // Idle-stream bookkeeping for Detokenize.
  void TrackStream(grpc::CallbackServerContext* context);
  void TouchStream(grpc::CallbackServerContext* context);
  void UntrackStream(grpc::CallbackServerContext* context);
  void ReapIdleStreams();

  rpc::ServiceHost* const host_;
  const ServedTokenizer served_;
  const TokenizerLimits limits_;

  prometheus::Counter& encoded_tokens_;
  prometheus::Counter& encoded_bytes_;
  prometheus::Counter& decoded_tokens_;
  prometheus::Gauge& detokenize_streams_;

  rpc::HandlerPool pool_;

  absl::Mutex streams_mu_;
  absl::flat_hash_map<grpc::CallbackServerContext*, absl::Time> stream_last_activity_
      ABSL_GUARDED_BY(streams_mu_);
  bool stopping_ ABSL_GUARDED_BY(streams_mu_) = false;
  std::thread reaper_;  // last: starts once everything above exists
};

}  // namespace r1serve::services
