#include "gateway/tokenizer_client.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/rpc/status_conversion.h"

namespace r1serve::gateway {
namespace {

absl::Status CancelledError() { return absl::CancelledError("the request was cancelled"); }

// A tokenizer failure as the gateway's client should see it: the tokenizer's own code for
// request errors (INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE, ...), with the call named.
absl::Status FromTokenizer(const grpc::Status& status, absl::string_view call) {
  absl::Status s = rpc::ToAbslStatus(status);
  return absl::Status(s.code(), absl::StrCat("tokenizer service ", call, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::vector<int32_t>> TokenizerClient::Encode(CallScope& scope,
                                                             const std::string& model,
                                                             const std::string& text,
                                                             bool add_special_tokens) {
  grpc::ClientContext* context = scope.NewContext();
  if (context == nullptr) return CancelledError();
  v1::EncodeRequest request;
  request.set_model(model);
  request.set_text(text);
  request.set_add_special_tokens(add_special_tokens);
  v1::EncodeResponse response;
  grpc::Status status = stub_->Encode(context, request, &response);
  if (!status.ok()) return FromTokenizer(status, "Encode");
  return std::vector<int32_t>(response.token_ids().begin(), response.token_ids().end());
}

absl::StatusOr<v1::ApplyChatTemplateResponse> TokenizerClient::ApplyChatTemplate(
    CallScope& scope, const v1::ApplyChatTemplateRequest& request) {
  grpc::ClientContext* context = scope.NewContext();
  if (context == nullptr) return CancelledError();
  v1::ApplyChatTemplateResponse response;
  grpc::Status status = stub_->ApplyChatTemplate(context, request, &response);
  if (!status.ok()) return FromTokenizer(status, "ApplyChatTemplate");
  return response;
}

absl::StatusOr<std::vector<std::string>> TokenizerClient::TokenTexts(
    CallScope& scope, const std::string& model, absl::Span<const int32_t> ids) {
  // Enough for several vocabularies; a cache this full is dropped rather than grown.
  constexpr size_t kMaxCachedTexts = size_t{1} << 20;
  std::vector<std::string> texts(ids.size());
  std::vector<size_t> missing;
  {
    absl::MutexLock lock(&cache_mu_);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = token_texts_.find(std::make_pair(model, ids[i]));
      if (it == token_texts_.end()) {
        missing.push_back(i);
      } else {
        texts[i] = it->second;
      }
    }
  }
  if (missing.empty()) return texts;
  grpc::ClientContext* context = scope.NewContext();
  if (context == nullptr) return CancelledError();
  v1::TokenizerDecodeBatchRequest request;
  request.set_model(model);
  for (size_t i : missing) request.add_sequences()->add_ids(ids[i]);
  v1::TokenizerDecodeBatchResponse response;
  grpc::Status status = stub_->DecodeBatch(context, request, &response);
  if (!status.ok()) return FromTokenizer(status, "DecodeBatch");
  if (response.texts_size() != static_cast<int>(missing.size())) {
    return absl::InternalError("tokenizer service DecodeBatch returned the wrong number of texts");
  }
  absl::MutexLock lock(&cache_mu_);
  if (token_texts_.size() > kMaxCachedTexts) token_texts_.clear();
  for (size_t k = 0; k < missing.size(); ++k) {
    texts[missing[k]] = response.texts(static_cast<int>(k));
    token_texts_[std::make_pair(model, ids[missing[k]])] = texts[missing[k]];
  }
  return texts;
}

DetokenizeStream::~DetokenizeStream() {
  if (stream_) {
    context_->TryCancel();
    stream_->Finish().ok();  // the outcome no longer matters
  }
}

absl::Status DetokenizeStream::Open() {
  if (stream_) return absl::OkStatus();
  context_ = scope_->NewContext();
  if (context_ == nullptr) return CancelledError();
  stream_ = client_->stub().Detokenize(context_);
  return absl::OkStatus();
}

absl::Status DetokenizeStream::Failed(absl::string_view during) {
  grpc::Status status = stream_->Finish();
  stream_.reset();  // finished: the destructor must not finish it again
  if (status.ok()) {
    status = grpc::Status(grpc::StatusCode::INTERNAL, "the stream ended early");
  }
  absl::Status s = rpc::ToAbslStatus(status);
  // A tokenizer that went away mid-stream is an outage, not the client's fault.
  const absl::StatusCode code =
      s.code() == absl::StatusCode::kInternal || s.code() == absl::StatusCode::kUnknown
          ? absl::StatusCode::kUnavailable
          : s.code();
  return absl::Status(code,
                      absl::StrCat("tokenizer service Detokenize (", during, "): ", s.message()));
}

absl::StatusOr<DetokenizedText> DetokenizeStream::Push(absl::Span<const int32_t> ids) {
  if (absl::Status s = Open(); !s.ok()) return s;
  v1::DetokenizeRequest request;
  if (!options_sent_) {
    *request.mutable_options() = options_;
    options_sent_ = true;
  }
  request.mutable_token_ids()->Add(ids.begin(), ids.end());
  v1::DetokenizeResponse response;
  if (!stream_->Write(request) || !stream_->Read(&response)) return Failed("sending ids");
  return DetokenizedText{.reasoning = std::move(*response.mutable_reasoning_delta()),
                         .content = std::move(*response.mutable_content_delta()),
                         .reasoning_tokens = response.reasoning_tokens()};
}

absl::StatusOr<DetokenizedText> DetokenizeStream::Finish() {
  if (!stream_) return DetokenizedText{};  // nothing was sent: nothing is held back
  v1::DetokenizeResponse response;
  if (!stream_->WritesDone() || !stream_->Read(&response) || !response.final()) {
    return Failed("flushing");
  }
  grpc::Status status = stream_->Finish();
  stream_.reset();
  if (!status.ok()) return FromTokenizer(status, "Detokenize");
  return DetokenizedText{.reasoning = std::move(*response.mutable_reasoning_delta()),
                         .content = std::move(*response.mutable_content_delta()),
                         .reasoning_tokens = response.reasoning_tokens()};
}

}  // namespace r1serve::gateway
