#include "services/tokenizer/tokenizer_service.h"

#include <prometheus/family.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/sha256.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/status_conversion.h"
#include "lib/text/chat_template.h"
#include "lib/text/reasoning_splitter.h"
#include "lib/text/stream_detokenizer.h"

namespace r1serve::services {
namespace {

using text::ChatFamily;

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return std::move(bytes).str();
}

ChatFamily FromProto(v1::ChatFamily family) {
  switch (family) {
    case v1::CHAT_FAMILY_DEEPSEEK_R1:
      return ChatFamily::kDeepSeekR1;
    case v1::CHAT_FAMILY_QWEN2:
      return ChatFamily::kQwen2;
    case v1::CHAT_FAMILY_QWEN3:
      return ChatFamily::kQwen3;
    case v1::CHAT_FAMILY_LLAMA3:
      return ChatFamily::kLlama3;
    default:
      return ChatFamily::kUnknown;
  }
}

v1::ChatFamily ToProto(ChatFamily family) {
  switch (family) {
    case ChatFamily::kDeepSeekR1:
      return v1::CHAT_FAMILY_DEEPSEEK_R1;
    case ChatFamily::kQwen2:
      return v1::CHAT_FAMILY_QWEN2;
    case ChatFamily::kQwen3:
      return v1::CHAT_FAMILY_QWEN3;
    case ChatFamily::kLlama3:
      return v1::CHAT_FAMILY_LLAMA3;
    case ChatFamily::kUnknown:
      break;
  }
  return v1::CHAT_FAMILY_UNSPECIFIED;
}

absl::StatusOr<std::string> RoleName(v1::ChatRole role) {
  switch (role) {
    case v1::CHAT_ROLE_SYSTEM:
      return std::string("system");
    case v1::CHAT_ROLE_USER:
      return std::string("user");
    case v1::CHAT_ROLE_ASSISTANT:
      return std::string("assistant");
    case v1::CHAT_ROLE_TOOL:
      return std::string("tool");
    default:
      return absl::InvalidArgumentError("chat message has no role (set system, user, ...)");
  }
}

void FillAddedToken(const text::Tokenizer& tokenizer, std::optional<text::TokenId> id,
                    v1::AddedToken* out) {
  if (!id) return;
  out->set_id(*id);
  out->set_content(tokenizer.IdToToken(*id).value_or(""));
  out->set_special(tokenizer.IsSpecial(*id));
}

// The generation prompt of these families leaves a think block open.
bool PromptEndsInReasoning(std::string_view prompt) {
  constexpr std::string_view kOpen = "<think>\n";
  return prompt.size() >= kOpen.size() && prompt.substr(prompt.size() - kOpen.size()) == kOpen;
}

bool AddSpecial(bool has, bool value) { return has ? value : true; }

// One family for both directions: the registry merges the second registration into the first.
prometheus::Counter& TokensCounter(prometheus::Registry& registry, const std::string& direction) {
  return prometheus::BuildCounter()
      .Name("r1serve_tokenizer_tokens_total")
      .Help("Token ids produced by encoding or consumed by decoding")
      .Register(registry)
      .Add({{"direction", direction}});
}

}  // namespace

absl::StatusOr<ServedTokenizer> LoadServedTokenizer(std::string model_name, const std::string& path,
                                                    const std::string& config_path) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path json_path = path;
  if (fs::is_directory(json_path, error)) json_path /= "tokenizer.json";
  fs::path config = config_path;
  if (config.empty()) {
    fs::path beside = json_path.parent_path() / "tokenizer_config.json";
    if (fs::exists(beside, error)) config = beside;
  }
  ASSIGN_OR_RETURN(std::string json_bytes, ReadWholeFile(json_path.string()));
  std::string config_bytes;
  if (!config.empty()) {
    ASSIGN_OR_RETURN(config_bytes, ReadWholeFile(config.string()));
  }
  absl::StatusOr<std::unique_ptr<text::Tokenizer>> tokenizer =
      text::Tokenizer::FromJson(json_bytes, config_bytes);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(json_path.string(), ": ", tokenizer.status().message()));
  }
  ServedTokenizer served;
  served.model_name = std::move(model_name);
  served.fingerprint = Sha256Hex(json_bytes);
  served.tokenizer = std::move(*tokenizer);
  return served;
}

TokenizerService::TokenizerService(rpc::ServiceHost* host, ServedTokenizer served,
                                   TokenizerLimits limits)
    : host_(host),
      served_(std::move(served)),
      limits_(limits),
      encoded_tokens_(TokensCounter(host->metrics_registry(), "encode")),
      encoded_bytes_(prometheus::BuildCounter()
                         .Name("r1serve_tokenizer_encoded_bytes_total")
                         .Help("UTF-8 bytes of text encoded")
                         .Register(host->metrics_registry())
                         .Add({})),
      decoded_tokens_(TokensCounter(host->metrics_registry(), "decode")),
      detokenize_streams_(prometheus::BuildGauge()
                              .Name("r1serve_tokenizer_detokenize_streams")
                              .Help("Detokenize streams in progress")
                              .Register(host->metrics_registry())
                              .Add({})),
      pool_(limits.worker_threads, limits.max_queued_requests),
      reaper_([this] { ReapIdleStreams(); }) {}

absl::StatusOr<const text::Tokenizer*> TokenizerService::Resolve(const std::string& model) const {
  if (model.empty() || model == served_.model_name) return served_.tokenizer.get();
  return absl::NotFoundError(
      absl::StrCat("unknown model '", model, "'; this server serves '", served_.model_name, "'"));
}

template <typename Handler>
grpc::ServerUnaryReactor* TokenizerService::Unary(grpc::CallbackServerContext* context,
                                                  Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status admitted = host_->Admit(context); !admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  // The work runs on the handler pool, not on gRPC's callback threads, so that a megabyte-sized
  // request never delays health checks or small calls.
  bool queued = pool_.TrySubmit([reactor, context, handler = std::move(handler)]() mutable {
    if (context->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before it started"));
      return;
    }
    reactor->Finish(rpc::ToGrpcStatus(handler()));
  });
  if (!queued) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("tokenizer busy: ", pool_.max_queued(), " requests already queued")));
  }
  return reactor;
}

absl::Status TokenizerService::CheckText(std::string_view text) const {
  if (static_cast<int64_t>(text.size()) > limits_.max_text_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text of ", text.size(), " bytes is over the limit of ", limits_.max_text_bytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status TokenizerService::CheckCount(int64_t count, absl::string_view what) const {
  if (count > limits_.max_batch_items) {
    return absl::InvalidArgumentError(
        absl::StrCat(count, " ", what, " are over the limit of ", limits_.max_batch_items));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TokenizerService::DecodeCounted(
    const text::Tokenizer& tokenizer, const google::protobuf::RepeatedField<int32_t>& ids,
    bool skip_special_tokens) {
  ASSIGN_OR_RETURN(
      std::string text,
      tokenizer.Decode(std::vector<text::TokenId>(ids.begin(), ids.end()), skip_special_tokens));
  decoded_tokens_.Increment(ids.size());
  return text;
}

absl::Status TokenizerService::CheckResponseBytes(int64_t bytes) const {
  if (bytes > limits_.max_response_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the response would hold about ", bytes, " bytes, over the limit of ",
                     limits_.max_response_bytes, "; split the request"));
  }
  return absl::OkStatus();
}

int64_t TokenizerService::DecodedBytes(const google::protobuf::RepeatedField<int32_t>& ids,
                                       const text::Tokenizer& tokenizer, bool skip_special) {
  int64_t bytes = 0;
  for (int32_t id : ids) bytes += tokenizer.TokenBytes(id, skip_special).size();
  return bytes;
}

absl::Status TokenizerService::CheckIds(const google::protobuf::RepeatedField<int32_t>& ids,
                                        const text::Tokenizer& tokenizer) const {
  if (ids.size() > limits_.max_token_ids) {
    return absl::InvalidArgumentError(
        absl::StrCat(ids.size(), " token ids are over the limit of ", limits_.max_token_ids));
  }
  for (int i = 0; i < ids.size(); ++i) {
    if (!tokenizer.IsValidId(ids[i])) {
      return absl::OutOfRangeError(absl::StrCat("token id ", ids[i], " at position ", i,
                                                " is outside the vocabulary [0, ",
                                                tokenizer.VocabSize(), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<text::TokenId>> TokenizerService::EncodeCounted(
    const text::Tokenizer& tokenizer, std::string_view text, bool add_special_tokens) {
  ASSIGN_OR_RETURN(std::vector<text::TokenId> ids, tokenizer.TryEncode(text, add_special_tokens));
  encoded_tokens_.Increment(ids.size());
  encoded_bytes_.Increment(text.size());
  return ids;
}

template <typename Request>
absl::StatusOr<std::vector<text::TokenId>> TokenizerService::EncodeOne(const Request& request) {
  ASSIGN_OR_RETURN(const text::Tokenizer* tokenizer, Resolve(request.model()));
  RETURN_IF_ERROR(CheckText(request.text()));
  return EncodeCounted(*tokenizer, request.text(),
                       AddSpecial(request.has_add_special_tokens(), request.add_special_tokens()));
}

grpc::ServerUnaryReactor* TokenizerService::Encode(grpc::CallbackServerContext* context,
                                                   const v1::EncodeRequest* request,
                                                   v1::EncodeResponse* response) {
  return Unary(context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<text::TokenId> ids, EncodeOne(*request));
    response->mutable_token_ids()->Add(ids.begin(), ids.end());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TokenizerService::EncodeBatch(grpc::CallbackServerContext* context,
                                                        const v1::EncodeBatchRequest* request,
                                                        v1::EncodeBatchResponse* response) {
  return Unary(context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(const text::Tokenizer* tokenizer, Resolve(request->model()));
    RETURN_IF_ERROR(CheckCount(request->texts_size(), "texts"));
    for (const std::string& text : request->texts()) RETURN_IF_ERROR(CheckText(text));
    const bool add_special =
        AddSpecial(request->has_add_special_tokens(), request->add_special_tokens());
    int64_t total_ids = 0;
    for (const std::string& text : request->texts()) {
      ASSIGN_OR_RETURN(std::vector<text::TokenId> ids,
                       EncodeCounted(*tokenizer, text, add_special));
      total_ids += ids.size();
      // An id takes at most 5 bytes on the wire.
      RETURN_IF_ERROR(CheckResponseBytes(5 * total_ids));
      response->add_results()->mutable_ids()->Add(ids.begin(), ids.end());
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TokenizerService::Decode(grpc::CallbackServerContext* context,
                                                   const v1::TokenizerDecodeRequest* request,
                                                   v1::TokenizerDecodeResponse* response) {
  return Unary(context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(const text::Tokenizer* tokenizer, Resolve(request->model()));
    RETURN_IF_ERROR(CheckIds(request->token_ids(), *tokenizer));
    // Bound the text before building it (repairing invalid UTF-8 can at most triple it).
    RETURN_IF_ERROR(CheckResponseBytes(
        DecodedBytes(request->token_ids(), *tokenizer, request->skip_special_tokens())));
    ASSIGN_OR_RETURN(*response->mutable_text(), DecodeCounted(*tokenizer, request->token_ids(),
                                                              request->skip_special_tokens()));
    return CheckResponseBytes(response->text().size());
  });
}

grpc::ServerUnaryReactor* TokenizerService::DecodeBatch(
    grpc::CallbackServerContext* context, const v1::TokenizerDecodeBatchRequest* request,
    v1::TokenizerDecodeBatchResponse* response) {
  return Unary(context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(const text::Tokenizer* tokenizer, Resolve(request->model()));
    RETURN_IF_ERROR(CheckCount(request->sequences_size(), "sequences"));
    int64_t total_ids = 0;
    int64_t total_bytes = 0;
    for (const v1::TokenIds& sequence : request->sequences()) {
      RETURN_IF_ERROR(CheckIds(sequence.ids(), *tokenizer));
      total_ids += sequence.ids_size();
      total_bytes += DecodedBytes(sequence.ids(), *tokenizer, request->skip_special_tokens());
    }
    if (total_ids > limits_.max_token_ids) {
      return absl::InvalidArgumentError(absl::StrCat(
          total_ids, " token ids in the batch are over the limit of ", limits_.max_token_ids));
    }
    RETURN_IF_ERROR(CheckResponseBytes(total_bytes));
    int64_t response_bytes = 0;
    for (const v1::TokenIds& sequence : request->sequences()) {
      ASSIGN_OR_RETURN(*response->add_texts(),
                       DecodeCounted(*tokenizer, sequence.ids(), request->skip_special_tokens()));
      response_bytes += response->texts().rbegin()->size();
      RETURN_IF_ERROR(CheckResponseBytes(response_bytes));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TokenizerService::ApplyChatTemplate(
    grpc::CallbackServerContext* context, const v1::ApplyChatTemplateRequest* request,
    v1::ApplyChatTemplateResponse* response) {
  return Unary(context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(const text::Tokenizer* tokenizer, Resolve(request->model()));
    RETURN_IF_ERROR(CheckCount(request->messages_size(), "messages"));
    std::vector<text::ChatMessage> messages;
    int64_t total_bytes = 0;
    for (const v1::ChatMessage& message : request->messages()) {
      ASSIGN_OR_RETURN(std::string role, RoleName(message.role()));
      text::ChatMessage& out = messages.emplace_back();
      out.role = std::move(role);
      out.content = message.content();
      if (message.has_reasoning_content()) out.reasoning_content = message.reasoning_content();
      total_bytes += message.content().size() + message.reasoning_content().size();
    }
    if (total_bytes > limits_.max_text_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("conversation of ", total_bytes,
                                                     " bytes is over the limit of ",
                                                     limits_.max_text_bytes, " bytes"));
    }
    ChatFamily family = request->family() == v1::CHAT_FAMILY_UNSPECIFIED
                            ? tokenizer->Config().chat_family
                            : FromProto(request->family());
    text::ChatTemplateOptions options;
    options.add_generation_prompt = request->add_generation_prompt();
    ASSIGN_OR_RETURN(
        std::string prompt,
        text::RenderChat(family, messages, options, tokenizer->Config().bos_token.value_or("")));
    RETURN_IF_ERROR(CheckText(prompt));  // the template's own text counts too
    if (request->tokenize()) {
      // The template already wrote BOS: no post-processor on top.
      ASSIGN_OR_RETURN(std::vector<text::TokenId> ids,
                       EncodeCounted(*tokenizer, prompt, /*add_special_tokens=*/false));
      response->mutable_token_ids()->Add(ids.begin(), ids.end());
    }
    response->set_family(ToProto(family));
    response->set_ends_in_reasoning(request->add_generation_prompt() &&
                                    PromptEndsInReasoning(prompt));
    response->set_prompt(std::move(prompt));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TokenizerService::CountTokens(grpc::CallbackServerContext* context,
                                                        const v1::CountTokensRequest* request,
                                                        v1::CountTokensResponse* response) {
  return Unary(context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<text::TokenId> ids, EncodeOne(*request));
    response->set_token_count(ids.size());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TokenizerService::Info(grpc::CallbackServerContext* context,
                                                 const v1::TokenizerInfoRequest* request,
                                                 v1::TokenizerInfoResponse* response) {
  return Unary(context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(const text::Tokenizer* tokenizer, Resolve(request->model()));
    response->set_model(served_.model_name);
    response->set_fingerprint(served_.fingerprint);
    response->set_vocab_size(tokenizer->VocabSize());
    response->set_chat_family(ToProto(tokenizer->Config().chat_family));
    if (tokenizer->BosId()) FillAddedToken(*tokenizer, tokenizer->BosId(), response->mutable_bos());
    if (tokenizer->EosId()) FillAddedToken(*tokenizer, tokenizer->EosId(), response->mutable_eos());
    if (const auto& pad = tokenizer->Config().pad_token) {
      if (auto id = tokenizer->TokenToId(*pad)) {
        FillAddedToken(*tokenizer, id, response->mutable_pad());
      }
    }
    if (auto id = tokenizer->TokenToId("<think>")) {
      FillAddedToken(*tokenizer, id, response->mutable_think_start());
    }
    if (auto id = tokenizer->TokenToId("</think>")) {
      FillAddedToken(*tokenizer, id, response->mutable_think_end());
    }
    for (const text::AddedToken& added : tokenizer->AddedTokens()) {
      v1::AddedToken* out = response->add_added_tokens();
      out->set_id(added.id);
      out->set_content(added.content);
      out->set_special(added.special);
    }
    return absl::OkStatus();
  });
}

// One Detokenize stream, ping-pong: read a message, write its one response, read the next.
// Only one read or write is ever outstanding, so Finish is never racing an operation. A stream
// that sends nothing for limits.stream_idle_timeout is cancelled by the service's idle reaper
// (TryCancel: the pending read then fails and the reactor finishes).
class DetokenizeReactor final
    : public grpc::ServerBidiReactor<v1::DetokenizeRequest, v1::DetokenizeResponse> {
 public:
  DetokenizeReactor(TokenizerService* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context) {
    grpc::Status admitted = service_->host_->Admit(context);
    if (!admitted.ok()) {
      Finish(admitted);
      return;
    }
    service_->detokenize_streams_.Increment();
    service_->TrackStream(context_);
    tracked_ = true;
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed (or went away: then the write fails and we finish)
      SendFinal();
      return;
    }
    service_->TouchStream(context_);
    absl::Status status = HandleRequest();
    if (!status.ok()) {
      Finish(rpc::ToGrpcStatus(status));
      return;
    }
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    } else if (response_.final()) {
      Finish(grpc::Status::OK);
    } else {
      StartRead(&request_);
    }
  }

  void OnDone() override {
    if (tracked_) {
      service_->UntrackStream(context_);
      service_->detokenize_streams_.Decrement();
    }
    delete this;
  }

 private:
  absl::Status HandleRequest() {
    response_.Clear();
    const bool first = !detokenizer_.has_value();
    if (request_.has_options() && !first) {
      return absl::InvalidArgumentError("options are allowed only on the first Detokenize message");
    }
    if (first) {
      const v1::DetokenizeOptions& options = request_.options();
      ASSIGN_OR_RETURN(tokenizer_, service_->Resolve(options.model()));
      detokenizer_.emplace(*tokenizer_, options.skip_special_tokens());
      if (options.split_reasoning()) {
        splitter_.emplace(
            text::ReasoningSplitterOptions{.starts_in_reasoning = options.starts_in_reasoning()});
      }
    }
    if (request_.token_ids_size() > service_->limits_.max_stream_message_ids) {
      return absl::InvalidArgumentError(absl::StrCat(request_.token_ids_size(),
                                                     " ids in one Detokenize message are over the "
                                                     "limit of ",
                                                     service_->limits_.max_stream_message_ids));
    }
    RETURN_IF_ERROR(service_->CheckIds(request_.token_ids(), *tokenizer_));
    const std::span<const int32_t> ids(request_.token_ids().data(), request_.token_ids_size());
    if (!splitter_) {
      ASSIGN_OR_RETURN(*response_.mutable_content_delta(), detokenizer_->Push(ids));
    } else {
      // Reasoning tokens: those whose text lies in the block, its <think> and </think> included:
      // the block is open (or may still open) before or after the token's text.
      uint32_t reasoning_tokens = 0;
      for (int32_t id : ids) {
        ASSIGN_OR_RETURN(std::string piece, detokenizer_->Push(id));
        const bool before = splitter_->in_reasoning();
        Append(splitter_->Push(piece));
        if (before || splitter_->in_reasoning()) ++reasoning_tokens;
      }
      response_.set_reasoning_tokens(reasoning_tokens);
    }
    service_->decoded_tokens_.Increment(ids.size());
    return absl::OkStatus();
  }

  void SendFinal() {
    response_.Clear();
    if (detokenizer_) {
      std::string rest = detokenizer_->Finish();
      if (splitter_) {
        Append(splitter_->Push(rest));
        Append(splitter_->Finish());
      } else {
        response_.mutable_content_delta()->append(rest);
      }
    }
    response_.set_final(true);
    StartWrite(&response_);
  }

  void Append(const text::ReasoningDelta& delta) {
    response_.mutable_reasoning_delta()->append(delta.reasoning);
    response_.mutable_content_delta()->append(delta.content);
  }

  TokenizerService* const service_;
  grpc::CallbackServerContext* const context_;
  bool tracked_ = false;
  const text::Tokenizer* tokenizer_ = nullptr;
  std::optional<text::StreamDetokenizer> detokenizer_;
  std::optional<text::ReasoningSplitter> splitter_;
  v1::DetokenizeRequest request_;
  v1::DetokenizeResponse response_;
};

void TokenizerService::TrackStream(grpc::CallbackServerContext* context) {
  absl::MutexLock lock(&streams_mu_);
  stream_last_activity_[context] = absl::Now();
}

void TokenizerService::TouchStream(grpc::CallbackServerContext* context) {
  absl::MutexLock lock(&streams_mu_);
  auto it = stream_last_activity_.find(context);
  if (it != stream_last_activity_.end()) it->second = absl::Now();
}

void TokenizerService::UntrackStream(grpc::CallbackServerContext* context) {
  absl::MutexLock lock(&streams_mu_);
  stream_last_activity_.erase(context);
}

void TokenizerService::ReapIdleStreams() {
  const absl::Duration period =
      std::clamp(limits_.stream_idle_timeout / 4, absl::Milliseconds(50), absl::Seconds(1));
  absl::MutexLock lock(&streams_mu_);
  while (!streams_mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) {
    const absl::Time now = absl::Now();
    for (auto& [context, last] : stream_last_activity_) {
      if (now - last > limits_.stream_idle_timeout) {
        context->TryCancel();
        last = absl::InfiniteFuture();  // cancel once; OnDone untracks it
      }
    }
  }
}

TokenizerService::~TokenizerService() {
  {
    absl::MutexLock lock(&streams_mu_);
    stopping_ = true;
  }
  reaper_.join();
}

grpc::ServerBidiReactor<v1::DetokenizeRequest, v1::DetokenizeResponse>*
TokenizerService::Detokenize(grpc::CallbackServerContext* context) {
  return new DetokenizeReactor(this, context);
}

}  // namespace r1serve::services
