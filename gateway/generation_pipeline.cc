#include "gateway/generation_pipeline.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/engine/kv/block_hash.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/rpc_metrics.h"
#include "lib/rpc/status_conversion.h"

namespace r1serve::gateway {
namespace {

int64_t Micros(absl::Duration d) { return absl::ToInt64Microseconds(d); }

// Failures of the prefill side (or of reaching decode) that another instance may not have.
bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

void Append(DetokenizedText& into, DetokenizedText more) {
  into.reasoning += more.reasoning;
  into.content += more.content;
  into.reasoning_tokens += more.reasoning_tokens;
}

}  // namespace

grpc::Status GenerationPipeline::Status(const absl::Status& status) const {
  if (scope_->cancelled())
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
  return rpc::ToGrpcStatus(status);
}

grpc::Status GenerationPipeline::RunGenerate(const v1::GatewayGenerateRequest& request) {
  request_id_ = scope_->request_id();
  absl::StatusOr<PreparedPrompt> prompt = PrepareGenerate(request);
  if (!prompt.ok()) return Status(prompt.status());
  return Generate(request.model(), *prompt, request.sampling());
}

grpc::Status GenerationPipeline::RunChat(const v1::ChatRequest& request) {
  request_id_ = scope_->request_id();
  absl::StatusOr<PreparedPrompt> prompt = PrepareChat(request);
  if (!prompt.ok()) return Status(prompt.status());
  return Generate(request.model(), *prompt, request.sampling());
}

absl::StatusOr<PreparedPrompt> GenerationPipeline::PrepareGenerate(
    const v1::GatewayGenerateRequest& request) {
  PreparedPrompt prompt;
  const absl::Time start = absl::Now();
  switch (request.prompt_case()) {
    case v1::GatewayGenerateRequest::kText: {
      if (request.text().empty()) return absl::InvalidArgumentError("the prompt text is empty");
      const bool add_special = !request.has_add_special_tokens() || request.add_special_tokens();
      ASSIGN_OR_RETURN(prompt.token_ids, deps_.tokenizer->Encode(*scope_, request.model(),
                                                                 request.text(), add_special));
      break;
    }
    case v1::GatewayGenerateRequest::kTokenIds:
      prompt.token_ids.assign(request.token_ids().ids().begin(), request.token_ids().ids().end());
      break;
    case v1::GatewayGenerateRequest::PROMPT_NOT_SET:
      return absl::InvalidArgumentError("a prompt is required: set text or token_ids");
  }
  if (prompt.token_ids.empty()) {
    return absl::InvalidArgumentError("the prompt has no tokens");
  }
  prompt.split_reasoning = request.split_reasoning();
  prompt.starts_in_reasoning = request.split_reasoning() && request.starts_in_reasoning();
  prompt.tokenize_us = Micros(absl::Now() - start);
  return prompt;
}

absl::StatusOr<PreparedPrompt> GenerationPipeline::PrepareChat(const v1::ChatRequest& request) {
  if (request.messages().empty()) {
    return absl::InvalidArgumentError("messages must not be empty");
  }
  const absl::Time start = absl::Now();
  v1::ApplyChatTemplateRequest templ;
  templ.set_model(request.model());
  *templ.mutable_messages() = request.messages();
  templ.set_add_generation_prompt(true);
  templ.set_family(request.chat_family());
  templ.set_tokenize(true);
  ASSIGN_OR_RETURN(v1::ApplyChatTemplateResponse rendered,
                   deps_.tokenizer->ApplyChatTemplate(*scope_, templ));
  PreparedPrompt prompt;
  prompt.token_ids.assign(rendered.token_ids().begin(), rendered.token_ids().end());
  if (prompt.token_ids.empty()) return absl::InvalidArgumentError("the rendered prompt is empty");
  // Chat always splits: the splitter also catches a model that opens <think> itself.
  prompt.split_reasoning = true;
  prompt.starts_in_reasoning = rendered.ends_in_reasoning();
  prompt.tokenize_us = Micros(absl::Now() - start);
  return prompt;
}

grpc::Status GenerationPipeline::Generate(const std::string& model, const PreparedPrompt& prompt,
                                          const v1::SamplingParams& sampling) {
  tokenize_us_ = prompt.tokenize_us;
  model_ = model;
  RouteRequest decode_route{.prompt_tokens = static_cast<uint32_t>(prompt.token_ids.size()),
                            .samples = std::max<uint32_t>(sampling.n(), 1)};
  RouteRequest prefill_route = decode_route;
  if (deps_.prefill != nullptr) {
    if (const uint32_t block_size = deps_.prefill->block_size_tokens(); block_size > 0) {
      prefill_route.prompt_block_hashes =
          engine::BlockHashChain(prompt.token_ids, static_cast<int>(block_size));
    }
  }

  Attempt attempt;
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<InstancePool::Lease> decode = deps_.decode->Pick(*deps_.router, decode_route);
    std::optional<InstancePool::Lease> prefill;
    absl::Status routed = decode.status();
    if (routed.ok() && deps_.prefill != nullptr) {
      absl::StatusOr<InstancePool::Lease> picked =
          deps_.prefill->Pick(*deps_.router, prefill_route);
      if (picked.ok()) {
        prefill.emplace(std::move(*picked));
      } else {
        routed = picked.status();
      }
    }
    if (!routed.ok()) {
      if (round == 0) return Status(routed);
      // No other instance to retry on: the first failure is the one worth reporting.
      return grpc::Status(
          attempt.status.error_code(),
          absl::StrCat(attempt.status.error_message(), " (not retried: ", routed.message(), ")"));
    }
    const std::string prefill_endpoint = prefill ? prefill->address() : "";
    attempt = RunAttempt(model, prompt, sampling, *decode, prefill_endpoint, prefill);
    if (attempt.status.ok()) return attempt.status;
    if (scope_->cancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
    }
    const grpc::StatusCode code = attempt.status.error_code();
    if (attempt.gateway_side) return attempt.status;  // not decode's fault: no retry, no blame
    if (attempt.sent_tokens) {
      // Text already went out: a retry would repeat or contradict it. End the stream clearly.
      if (code == grpc::StatusCode::DEADLINE_EXCEEDED) return attempt.status;
      const grpc::StatusCode out = code == grpc::StatusCode::INVALID_ARGUMENT ||
                                           code == grpc::StatusCode::OUT_OF_RANGE ||
                                           code == grpc::StatusCode::RESOURCE_EXHAUSTED
                                       ? code
                                       : grpc::StatusCode::UNAVAILABLE;
      return grpc::Status(
          out, absl::StrCat("decode instance ", decode->address(), " failed after ", attempt.tokens,
                            " generated tokens; the text sent is incomplete: ",
                            attempt.status.error_message()));
    }
    const std::string message = absl::StrCat(
        "decode instance ", decode->address(),
        prefill_endpoint.empty() ? "" : absl::StrCat(" (prefill ", prefill_endpoint, ")"), ": ",
        attempt.status.error_message());
    attempt.status = grpc::Status(code, message);
    if (round == 1 || !Retryable(code) || scope_->expired()) return attempt.status;

    std::string failed_on;
    if (attempt.decode_unreachable || prefill_endpoint.empty()) {
      if (attempt.decode_unreachable) {
        deps_.decode->ReportUnreachable(decode->address(), attempt.status.error_message());
      }
      decode_route.excluded.push_back(decode->address());
      failed_on = "decode";
    } else {
      if (code == grpc::StatusCode::UNAVAILABLE) {
        deps_.prefill->ReportUnreachable(prefill_endpoint, attempt.status.error_message());
      }
      prefill_route.excluded.push_back(prefill_endpoint);
      failed_on = "prefill";
    }
    deps_.metrics->Retry(failed_on);
    R1_LOG(kWarning, "gateway") << "request " << request_id_ << ": " << message
                                << "; retrying on another " << failed_on << " instance";
  }
  return attempt.status;
}

GenerationPipeline::Attempt GenerationPipeline::RunAttempt(
    const std::string& model, const PreparedPrompt& prompt, const v1::SamplingParams& sampling,
    const InstancePool::Lease& decode, const std::string& prefill_endpoint,
    std::optional<InstancePool::Lease>& prefill) {
  Attempt attempt;
  grpc::ClientContext* context = scope_->NewContext();
  if (context == nullptr) {
    attempt.status = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
    return attempt;
  }
  v1::GenerateRequest request;
  request.set_request_id(request_id_);
  request.set_model(model);
  request.mutable_prompt_token_ids()->Add(prompt.token_ids.begin(), prompt.token_ids.end());
  *request.mutable_sampling() = sampling;
  request.set_prefill_endpoint(prefill_endpoint);

  v1::DetokenizeOptions options;
  options.set_model(model);
  options.set_skip_special_tokens(!sampling.has_skip_special_tokens() ||
                                  sampling.skip_special_tokens());
  options.set_split_reasoning(prompt.split_reasoning);
  options.set_starts_in_reasoning(prompt.starts_in_reasoning);
  std::vector<std::unique_ptr<Sample>> samples;
  for (uint32_t i = 0; i < std::max<uint32_t>(sampling.n(), 1); ++i) {
    samples.push_back(std::make_unique<Sample>(i, sampling, deps_.tokenizer, scope_, options));
  }

  auto stub = v1::DecodeService::NewStub(decode.channel());
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
      stub->Generate(context, request);
  v1::GenerateResponse in;
  bool final_sent = false;
  absl::Status error;
  while (reader->Read(&in)) {
    v1::GatewayGenerateResponse out;
    out.set_request_id(request_id_);
    if (!Translate(in, samples, &out, &error)) break;
    int tokens = 0;
    for (const v1::SampleDelta& d : out.samples()) tokens += d.token_ids_size();
    if (tokens > 0 && !attempt.sent_tokens) {
      // Prefill's part is over once tokens flow: its queue no longer holds this request.
      prefill.reset();
      first_token_us_ = Micros(absl::Now() - received_);
      deps_.metrics->ObserveTimeToFirstToken(first_token_us_ / 1e6);
    }
    attempt.tokens += tokens;
    if (in.has_usage() || in.has_timing()) {
      decode_usage_ = in.usage();
      decode_timing_ = in.timing();
      FillFinal(&out, samples, static_cast<uint32_t>(prompt.token_ids.size()));
      final_sent = true;
    }
    if (out.samples_size() == 0 && !final_sent) continue;
    if (tokens > 0) attempt.sent_tokens = true;
    if (!sink_->Send(std::move(out))) {
      scope_->Cancel();
      break;
    }
  }
  if (!error.ok()) context->TryCancel();
  grpc::Status status = reader->Finish();
  if (!error.ok()) {
    attempt.status = Status(error);
    attempt.gateway_side = true;
    return attempt;
  }
  if (!status.ok()) {
    attempt.status = status;
    attempt.decode_unreachable =
        status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        decode.channel()->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY;
    return attempt;
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!samples[i]->assembler.finished()) {
      attempt.status =
          grpc::Status(grpc::StatusCode::UNAVAILABLE,
                       absl::StrCat("decode ended the stream before sample ", i, " finished (",
                                    samples[i]->assembler.completion_tokens(), " tokens)"));
      return attempt;
    }
  }
  if (!final_sent) {
    v1::GatewayGenerateResponse out;
    out.set_request_id(request_id_);
    FillFinal(&out, samples, static_cast<uint32_t>(prompt.token_ids.size()));
    sink_->Send(std::move(out));
  }
  return attempt;
}

bool GenerationPipeline::Translate(const v1::GenerateResponse& in,
                                   std::vector<std::unique_ptr<Sample>>& samples,
                                   v1::GatewayGenerateResponse* out, absl::Status* error) {
  for (const v1::TokenDelta& delta : in.samples()) {
    if (delta.index() >= samples.size() || samples[delta.index()]->assembler.finished()) {
      *error = absl::InternalError(
          absl::StrCat("decode sent tokens for sample ", delta.index(), ", which is ",
                       delta.index() >= samples.size() ? "out of range" : "already finished"));
      return false;
    }
    Sample& sample = *samples[delta.index()];
    const int text_ids = SampleAssembler::TextTokenCount(delta);
    DetokenizedText text;
    if (text_ids > 0) {
      absl::StatusOr<DetokenizedText> piece = sample.text.Push(
          absl::MakeConstSpan(delta.token_ids().data(), static_cast<size_t>(text_ids)));
      if (!piece.ok()) {
        *error = piece.status();
        return false;
      }
      text = std::move(*piece);
    }
    if (delta.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      absl::StatusOr<DetokenizedText> rest = sample.text.Finish();
      if (!rest.ok()) {
        *error = rest.status();
        return false;
      }
      Append(text, std::move(*rest));
    }
    if (delta.token_ids_size() > 0) {
      const absl::Time now = absl::Now();
      if (sample.last_token != absl::InfinitePast()) {
        const double gap = absl::ToDoubleSeconds(now - sample.last_token) / delta.token_ids_size();
        for (int i = 0; i < delta.token_ids_size(); ++i)
          deps_.metrics->ObserveInterTokenLatency(gap);
      }
      sample.last_token = now;
    }
    *out->add_samples() = sample.assembler.Assemble(delta, text);
  }
  *error = FillTopLogprobText(out);
  return error->ok();
}

absl::Status GenerationPipeline::FillTopLogprobText(v1::GatewayGenerateResponse* out) {
  std::vector<int32_t> ids;
  for (const v1::SampleDelta& d : out->samples()) {
    for (const v1::TokenLogprob& lp : d.logprobs()) {
      for (const v1::TopLogprob& top : lp.top_logprobs()) ids.push_back(top.token_id());
    }
  }
  if (ids.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<std::string> texts,
                   deps_.tokenizer->TokenTexts(*scope_, model_, ids));
  size_t k = 0;
  for (v1::SampleDelta& d : *out->mutable_samples()) {
    for (v1::TokenLogprob& lp : *d.mutable_logprobs()) {
      for (v1::TopLogprob& top : *lp.mutable_top_logprobs()) top.set_text(std::move(texts[k++]));
    }
  }
  return absl::OkStatus();
}

void GenerationPipeline::FillFinal(v1::GatewayGenerateResponse* out,
                                   const std::vector<std::unique_ptr<Sample>>& samples,
                                   uint32_t prompt_tokens) {
  v1::Usage& usage = *out->mutable_usage();
  usage.set_prompt_tokens(decode_usage_.prompt_tokens() > 0 ? decode_usage_.prompt_tokens()
                                                            : prompt_tokens);
  uint32_t completion = 0;
  uint32_t reasoning = 0;
  for (const std::unique_ptr<Sample>& s : samples) {
    completion += s->assembler.completion_tokens();
    reasoning += s->assembler.reasoning_tokens();
  }
  usage.set_completion_tokens(completion);
  usage.set_cached_prompt_tokens(decode_usage_.cached_prompt_tokens());
  usage.set_reasoning_tokens(reasoning);
  v1::TimingBreakdown& timing = *out->mutable_timing();
  timing.set_tokenize_us(tokenize_us_);
  timing.set_queue_us(decode_timing_.queue_us());
  timing.set_prefill_us(decode_timing_.prefill_us());
  timing.set_kv_transfer_us(decode_timing_.kv_transfer_us());
  timing.set_first_token_us(first_token_us_);
  timing.set_decode_us(decode_timing_.decode_us());
  timing.set_total_us(Micros(absl::Now() - received_));
  deps_.metrics->CountTokens(usage.prompt_tokens(), completion, reasoning);
}

}  // namespace r1serve::gateway
