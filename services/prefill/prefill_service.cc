#include "services/prefill/prefill_service.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/queued_write_reactor.h"
#include "lib/rpc/status_conversion.h"
#include "services/engine_common/kv_stream.h"
#include "services/engine_common/proto_conversion.h"

namespace r1serve::services {

struct PrefillService::Call {
  rpc::StreamSender<v1::PrefillResponse> sender;
  std::string request_id;
  std::vector<int32_t> prompt;
  engine::SamplingParams params;
  std::optional<KvChunker> chunker;  // the engine loop's thread only, once started
  std::optional<absl::Time> first_chunk_at;
  absl::Time received;
  absl::Time queue_deadline = absl::InfiniteFuture();
  absl::Time started;

  std::mutex mu;
  engine::RequestId id = 0;  // the engine's, once submitted
  bool submitted = false;    // the engine knows the id
  bool cancelled = false;
};

namespace {

int64_t Micros(absl::Duration d) { return absl::ToInt64Microseconds(d); }

// Checks a request against what this instance serves, before any compute (the contract's
// order: model, fingerprint, cache geometry, skip, then the engine's own validation).
absl::Status ValidatePrefill(const ServedEngine& served, const v1::PrefillRequest& request,
                             const engine::SamplingParams& params) {
  RETURN_IF_ERROR(CheckModelName(served, request.model()));
  const engine::Engine& engine = served.loop->engine();
  if (request.model_fingerprint().empty()) {
    return absl::InvalidArgumentError("model_fingerprint is required (ModelInfo.fingerprint)");
  }
  if (request.model_fingerprint() != served.info.fingerprint()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model fingerprint differs: ours ", served.info.fingerprint(), ", theirs ",
                     request.model_fingerprint(), " (the instances serve different weights)"));
  }
  if (!request.has_kv_cache()) return absl::InvalidArgumentError("kv_cache is required");
  RETURN_IF_ERROR(CheckKvCacheSpec(engine.kv_header(), request.kv_cache()));
  const int block = engine.kv_header().block_size;
  if (request.skip_kv_tokens() % static_cast<uint32_t>(block) != 0 ||
      request.skip_kv_tokens() >= static_cast<uint32_t>(request.prompt_token_ids_size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "skip_kv_tokens ", request.skip_kv_tokens(), " must be a multiple of the block size ",
        block, " and smaller than the prompt (", request.prompt_token_ids_size(), " tokens)"));
  }
  if (request.queue_timeout_us() < 0) {
    return absl::InvalidArgumentError("queue_timeout_us must be >= 0");
  }
  const std::vector<int32_t> prompt(request.prompt_token_ids().begin(),
                                    request.prompt_token_ids().end());
  absl::Status valid = engine.ValidateRequest(prompt, params);
  if (!valid.ok()) return valid;
  return absl::OkStatus();
}

}  // namespace

PrefillService::PrefillService(rpc::ServiceHost* host, ServedEngine* served, EngineMetrics* metrics,
                               ServiceLoadCounters* counters, v1::Role role, PrefillLimits limits)
    : host_(host),
      served_(served),
      metrics_(metrics),
      counters_(counters),
      role_(role),
      limits_(limits),
      expirer_([this] { ExpireQueued(); }) {}

PrefillService::~PrefillService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  expirer_.join();
}

grpc::ServerWriteReactor<v1::PrefillResponse>* PrefillService::Prefill(
    grpc::CallbackServerContext* context, const v1::PrefillRequest* request) {
  auto* reactor = new rpc::QueuedWriteReactor<v1::PrefillResponse>();
  auto call = std::make_shared<Call>();
  call->sender = reactor->sender();
  call->received = absl::Now();
  if (grpc::Status admitted = host_->Admit(context); !admitted.ok()) {
    call->sender.Finish(admitted);
    return reactor;
  }
  if (context->deadline() <= std::chrono::system_clock::now()) {
    call->sender.Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                     "the call's deadline passed before prefill started"));
    return reactor;
  }
  absl::StatusOr<engine::SamplingParams> params = SamplingFromProto(request->sampling());
  absl::Status valid = params.ok() ? ValidatePrefill(*served_, *request, *params) : params.status();
  if (!valid.ok()) {
    call->sender.Finish(rpc::ToGrpcStatus(valid));
    return reactor;
  }
  call->request_id = request->request_id();
  call->prompt.assign(request->prompt_token_ids().begin(), request->prompt_token_ids().end());
  call->params = *std::move(params);
  const engine::KvHeader& kv = served_->loop->engine().kv_header();
  const uint32_t first_block = request->skip_kv_tokens() / static_cast<uint32_t>(kv.block_size);
  call->chunker.emplace(kv, static_cast<int>(call->prompt.size()), first_block,
                        request->max_chunk_bytes());
  if (request->queue_timeout_us() > 0) {
    call->queue_deadline = call->received + absl::Microseconds(request->queue_timeout_us());
  }

  // Cancellation (client gone, deadline passed): out of the queue, or out of the engine.
  std::weak_ptr<Call> weak = call;
  reactor->SetOnCancel([this, weak] {
    std::shared_ptr<Call> c = weak.lock();
    if (c == nullptr) return;
    std::lock_guard lock(c->mu);
    c->cancelled = true;
    if (c->submitted) served_->loop->Cancel(c->id);
  });

  v1::PrefillResponse header;
  *header.mutable_header() =
      KvHeaderToProto(kv, static_cast<int>(call->prompt.size()), first_block, 0);
  call->sender.Send(std::move(header));
  Admit(std::move(call));
  return reactor;
}

void PrefillService::Admit(std::shared_ptr<Call> call) {
  {
    std::lock_guard lock(mu_);
    if (running_ >= limits_.max_running) {
      if (queue_.size() >= limits_.max_queued) {
        call->sender.Finish(
            grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                         absl::StrCat("prefill busy: ", queue_.size(), " calls already queued")));
        return;
      }
      counters_->queued_requests.fetch_add(1);
      counters_->queued_prompt_tokens.fetch_add(call->prompt.size());
      queue_.push_back(std::move(call));
      return;
    }
    ++running_;
  }
  Start(call);
}

void PrefillService::Start(const std::shared_ptr<Call>& call) {
  call->started = absl::Now();
  {
    std::lock_guard lock(call->mu);
    if (call->cancelled) {
      Release();
      return;
    }
  }
  engine::RequestOptions options;
  options.export_kv = true;
  // Each layer's KV goes out as soon as the engine has written it, while later layers compute.
  // Pieces of one chunk each: the chunker moves their bytes instead of copying them.
  options.kv_sink_max_blocks = static_cast<int>(call->chunker->blocks_per_chunk());
  options.kv_sink = [call](engine::KvLayerBlocks blocks) {
    if (!call->first_chunk_at.has_value()) call->first_chunk_at = absl::Now();
    for (v1::KvChunk& chunk : call->chunker->Cut(std::move(blocks))) {
      v1::PrefillResponse message;
      *message.mutable_chunk() = std::move(chunk);
      if (!call->sender.Send(std::move(message))) return;  // the call ended
    }
  };
  counters_->active_kv_transfers.fetch_add(1);
  auto sink = [this, call](engine::TokenEvent event) {
    if (!event.request_done) return;  // the first tokens come again on the last event
    counters_->active_kv_transfers.fetch_sub(1);
    Release();
    if (event.kv == nullptr) {
      metrics_->kv_transfer_failures().Increment();
      absl::Status error = event.finish == engine::FinishReason::kCancelled
                               ? absl::CancelledError("prefill cancelled")
                               : event.error;
      if (error.ok()) error = absl::InternalError("prefill ended without KV");
      call->sender.Finish(rpc::ToGrpcStatus(error));
      return;
    }
    const absl::Time now = absl::Now();
    v1::TimingBreakdown timing;
    timing.set_queue_us(Micros(call->started - call->received));
    timing.set_prefill_us(Micros(now - call->started));
    timing.set_first_token_us(Micros(now - call->received));
    v1::PrefillResponse first;
    v1::FirstToken* first_token = first.mutable_first_token();
    for (const engine::SampledToken& t : event.kv->first_tokens) {
      *first_token->add_tokens() = TokenLogprobToProto(t.token_id, t.logprob, t.top_logprobs);
    }
    *first_token->mutable_timing() = timing;
    call->sender.Send(std::move(first));

    v1::PrefillResponse last;
    v1::PrefillTrailer* trailer = last.mutable_trailer();
    trailer->set_num_chunks(call->chunker->chunks_sent());
    trailer->set_kv_bytes(call->chunker->bytes_sent());
    v1::Usage* usage = trailer->mutable_usage();
    usage->set_prompt_tokens(static_cast<uint32_t>(call->prompt.size()));
    usage->set_cached_prompt_tokens(
        static_cast<uint32_t>(std::max(0, event.num_cached_prompt_tokens)));
    usage->set_completion_tokens(static_cast<uint32_t>(event.kv->first_tokens.size()));
    *trailer->mutable_timing() = timing;
    trailer->mutable_timing()->set_total_us(Micros(now - call->received));
    call->sender.Send(std::move(last));
    call->sender.Finish(grpc::Status::OK);
    metrics_->kv_transfer_bytes().Increment(static_cast<double>(call->chunker->bytes_sent()));
    metrics_->kv_transfer_seconds().Observe(
        absl::ToDoubleSeconds(now - call->first_chunk_at.value_or(now)));
    metrics_->request_latency().Observe(absl::ToDoubleSeconds(now - call->received));
  };
  absl::StatusOr<engine::RequestId> submitted =
      served_->loop->Submit(call->prompt, call->params, options, std::move(sink));
  if (!submitted.ok()) {
    counters_->active_kv_transfers.fetch_sub(1);
    Release();
    call->sender.Finish(rpc::ToGrpcStatus(submitted.status()));
    return;
  }
  std::lock_guard lock(call->mu);
  call->id = *submitted;
  call->submitted = true;
  if (call->cancelled) served_->loop->Cancel(call->id);
}

void PrefillService::Release() {
  std::shared_ptr<Call> next;
  {
    std::lock_guard lock(mu_);
    while (!queue_.empty()) {
      std::shared_ptr<Call> c = std::move(queue_.front());
      queue_.pop_front();
      counters_->queued_requests.fetch_sub(1);
      counters_->queued_prompt_tokens.fetch_sub(c->prompt.size());
      std::lock_guard call_lock(c->mu);
      if (!c->cancelled) {
        next = std::move(c);
        break;
      }
    }
    if (next == nullptr) {
      --running_;
      return;
    }
  }
  Start(next);  // keeps the slot
}

void PrefillService::ExpireQueued() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(10), [this] { return stopping_; });
    const absl::Time now = absl::Now();
    for (auto it = queue_.begin(); it != queue_.end();) {
      Call& c = **it;
      bool cancelled;
      {
        std::lock_guard call_lock(c.mu);
        cancelled = c.cancelled;
      }
      if (!cancelled && now < c.queue_deadline) {
        ++it;
        continue;
      }
      counters_->queued_requests.fetch_sub(1);
      counters_->queued_prompt_tokens.fetch_sub(c.prompt.size());
      if (!cancelled) {
        c.sender.Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                     absl::StrCat("prefill did not start within queue_timeout_us (",
                                                  Micros(now - c.received), " us queued behind ",
                                                  running_, " running prompts)")));
      }
      it = queue_.erase(it);
    }
  }
}

grpc::ServerUnaryReactor* PrefillService::Load(grpc::CallbackServerContext* context,
                                               const v1::LoadRequest* request,
                                               v1::LoadReport* response) {
  return AnswerLoad(*host_, context, *served_, role_, *counters_, *request, response);
}

}  // namespace r1serve::services
