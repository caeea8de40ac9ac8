#include "services/decode/decode_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/queued_write_reactor.h"
#include "lib/rpc/status_conversion.h"
#include "services/engine_common/kv_stream.h"
#include "services/engine_common/proto_conversion.h"

namespace r1serve::services {

struct DecodeService::Call {
  rpc::StreamSender<v1::GenerateResponse> sender;
  std::string request_id;
  std::string prefill_endpoint;
  std::vector<int32_t> prompt;
  v1::SamplingParams sampling_proto;
  engine::SamplingParams params;
  int n = 1;
  absl::Time received;

  std::mutex mu;
  grpc::ClientContext* prefill_context = nullptr;  // while the Prefill call runs
  bool cancelled = false;
  bool submitted = false;
  engine::RequestId id = 0;
  uint64_t reservation = 0;  // KvReservations ticket while reserved or waiting; 0 after

  // Written by the KV pull before the engine request exists, then by the engine loop's sink
  // only (Submit orders the two), so never concurrently.
  v1::TimingBreakdown timing;
  uint32_t cached_prompt_tokens = 0;
  std::optional<absl::Time> first_token_at;
  absl::Time last_token_at;
  std::vector<absl::Time> sample_last_token_at;  // [n]
  std::vector<char> echo_pending;  // [n] the engine will repeat an already forwarded first token
  uint32_t completion_tokens = 0;
  bool engine_has_kv = false;
};

namespace {

int64_t Micros(absl::Duration d) { return absl::ToInt64Microseconds(d); }

absl::Time DeadlineOf(const grpc::CallbackServerContext& context, absl::Duration fallback) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::Now() + fallback;
  return absl::FromChrono(deadline);
}

// What the gateway should learn from a failed Prefill call: the code says whether to retry
// elsewhere (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED), the message names the instance.
absl::Status PrefillCallError(const grpc::Status& status, const std::string& endpoint) {
  absl::StatusCode code = static_cast<absl::StatusCode>(status.error_code());
  // A prefill instance shutting down cancels its calls: for us it is unavailable.
  if (code == absl::StatusCode::kCancelled) code = absl::StatusCode::kUnavailable;
  return absl::Status(code,
                      absl::StrCat("prefill instance ", endpoint, ": ", status.error_message()));
}

void AddLogprob(const engine::SamplingParams& params, const engine::TokenEvent& e,
                v1::TokenDelta& delta) {
  if (!params.logprobs.has_value()) return;
  *delta.add_logprobs() = TokenLogprobToProto(e.token_id, e.logprob, e.top_logprobs);
}

}  // namespace

DecodeService::DecodeService(rpc::ServiceHost* host, ServedEngine* served, EngineMetrics* metrics,
                             ServiceLoadCounters* counters, DecodeOptions options)
    : host_(host),
      served_(served),
      metrics_(metrics),
      counters_(counters),
      options_(std::move(options)) {
  // The engine's free blocks as of every loop iteration: the step that takes an import's KV
  // into its blocks reports them used right after the reservation is released.
  served_->loop->SetLoadObserver([this](const engine::EngineLoad& load) {
    reservations_.SetAvailable(load.scheduler.kv.available_blocks());
    PublishWaiting();
  });
}

DecodeService::~DecodeService() {
  served_->loop->SetLoadObserver(nullptr);  // no more reservations start from the engine's load
  std::unique_lock lock(mu_);
  pulls_done_.wait(lock, [this] { return pulls_running_ == 0; });
}

void DecodeService::PublishWaiting() {
  // Its own counter: with role both, prefill counts its queue in queued_requests.
  counters_->waiting_for_kv.store(static_cast<uint32_t>(reservations_.waiting()));
}

void DecodeService::ReleaseReservation(Call& call) {
  uint64_t ticket;
  {
    std::lock_guard lock(call.mu);
    ticket = std::exchange(call.reservation, 0);
  }
  if (ticket != 0) reservations_.Release(ticket);
  PublishWaiting();
}

grpc::ServerWriteReactor<v1::GenerateResponse>* DecodeService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  auto* reactor = new rpc::QueuedWriteReactor<v1::GenerateResponse>();
  auto call = std::make_shared<Call>();
  call->sender = reactor->sender();
  call->received = absl::Now();
  if (grpc::Status admitted = host_->Admit(context); !admitted.ok()) {
    call->sender.Finish(admitted);
    return reactor;
  }
  const absl::Time deadline = DeadlineOf(*context, options_.default_deadline);
  absl::StatusOr<engine::SamplingParams> params = SamplingFromProto(request->sampling());
  absl::Status valid = params.status();
  call->prompt.assign(request->prompt_token_ids().begin(), request->prompt_token_ids().end());
  if (valid.ok()) valid = CheckModelName(*served_, request->model());
  if (valid.ok()) valid = served_->loop->engine().ValidateRequest(call->prompt, *params);
  if (valid.ok() && request->prefill_endpoint().empty() && options_.role != v1::ROLE_BOTH) {
    valid = absl::FailedPreconditionError(
        "no prefill_endpoint, and this instance (role decode) does not prefill: name a prefill "
        "instance, or run decode with --role=both");
  }
  std::shared_ptr<grpc::Channel> channel;
  if (valid.ok() && !request->prefill_endpoint().empty()) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> c = PrefillChannel(request->prefill_endpoint());
    if (c.ok()) {
      channel = *std::move(c);
    } else {
      valid = absl::InvalidArgumentError(absl::StrCat("prefill_endpoint: ", c.status().message()));
    }
  }
  if (!valid.ok()) {
    call->sender.Finish(rpc::ToGrpcStatus(valid));
    return reactor;
  }
  call->request_id = request->request_id();
  call->prefill_endpoint = request->prefill_endpoint();
  call->sampling_proto = request->sampling();
  call->params = *std::move(params);
  call->n = std::max<int>(1, static_cast<int>(call->params.n));
  call->sample_last_token_at.assign(static_cast<size_t>(call->n), absl::InfinitePast());
  call->echo_pending.assign(static_cast<size_t>(call->n), 0);

  std::weak_ptr<Call> weak = call;
  reactor->SetOnCancel([this, weak] {
    std::shared_ptr<Call> c = weak.lock();
    if (c == nullptr) return;
    {
      std::lock_guard lock(c->mu);
      c->cancelled = true;
      if (c->prefill_context != nullptr) c->prefill_context->TryCancel();
      if (c->submitted) served_->loop->Cancel(c->id);
    }
    ReleaseReservation(*c);
  });

  if (channel == nullptr) {
    Submit(call, std::nullopt);
    return reactor;
  }
  // The prompt's blocks, plus one per sample for the copy of a shared last block.
  const int block_size = served_->loop->engine().kv_header().block_size;
  const int64_t blocks =
      (static_cast<int64_t>(call->prompt.size()) + block_size - 1) / block_size + call->n;
  auto start_pull = [this, call, channel, deadline](uint64_t ticket) {
    {
      std::lock_guard lock(call->mu);
      call->reservation = ticket;
    }
    {
      std::lock_guard lock(mu_);
      ++pulls_running_;
    }
    std::thread([this, call, channel, deadline] {
      PullKv(call, channel, deadline);
      std::lock_guard lock(mu_);
      if (--pulls_running_ == 0) pulls_done_.notify_all();
    }).detach();
  };
  const uint64_t ticket = reservations_.Acquire(blocks, start_pull);
  PublishWaiting();
  bool cancelled;
  {
    std::lock_guard lock(call->mu);
    if (call->reservation == 0) call->reservation = ticket;  // waiting: Cancel removes it
    cancelled = call->cancelled;
  }
  // A cancel that came before the ticket was recorded could not give it back.
  if (cancelled) ReleaseReservation(*call);
  return reactor;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> DecodeService::PrefillChannel(
    const std::string& endpoint) {
  std::lock_guard lock(mu_);
  auto it = channels_.find(endpoint);
  if (it != channels_.end()) return it->second;
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                   rpc::CreateChannel(endpoint, options_.prefill_channel));
  channels_[endpoint] = channel;
  return channel;
}

void DecodeService::PullKv(std::shared_ptr<Call> call, std::shared_ptr<grpc::Channel> channel,
                           absl::Time deadline) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  {
    std::lock_guard lock(call->mu);
    if (!call->cancelled) call->prefill_context = &context;
  }
  if (call->prefill_context == nullptr) {  // cancelled while waiting for its reservation
    ReleaseReservation(*call);
    return;
  }
  counters_->active_kv_transfers.fetch_add(1);
  const engine::Engine& engine = served_->loop->engine();
  v1::PrefillRequest request;
  request.set_request_id(call->request_id);
  request.mutable_prompt_token_ids()->Add(call->prompt.begin(), call->prompt.end());
  *request.mutable_sampling() = call->sampling_proto;
  request.set_model_fingerprint(served_->info.fingerprint());
  *request.mutable_kv_cache() = served_->info.kv_cache();
  // Leave room for the message framing under the channel's limit.
  request.set_max_chunk_bytes(static_cast<uint64_t>(
      std::min<int64_t>(kDefaultMaxChunkBytes, options_.prefill_channel.max_message_bytes / 2)));
  request.set_queue_timeout_us(Micros(options_.prefill_queue_timeout));

  auto stub = v1::PrefillService::NewStub(channel);
  std::unique_ptr<grpc::ClientReader<v1::PrefillResponse>> reader =
      stub->Prefill(&context, request);
  KvStreamReceiver receiver(engine.kv_header(), call->prompt, call->n);
  absl::Status failure;
  bool trailer_seen = false;
  v1::FirstToken first_token;
  absl::Time transfer_start = absl::Now();
  v1::PrefillResponse message;
  while (failure.ok() && reader->Read(&message)) {
    switch (message.part_case()) {
      case v1::PrefillResponse::kHeader:
        failure = receiver.OnHeader(message.header());
        transfer_start = absl::Now();
        break;
      case v1::PrefillResponse::kChunk:
        failure = receiver.OnChunk(message.chunk());
        break;
      case v1::PrefillResponse::kFirstToken: {
        failure = receiver.OnFirstToken(message.first_token());
        if (!failure.ok()) break;
        const v1::TimingBreakdown& t = message.first_token().timing();
        call->timing.set_queue_us(t.queue_us());
        call->timing.set_prefill_us(t.prefill_us());
        first_token = message.first_token();
        break;
      }
      case v1::PrefillResponse::kTrailer:
        failure = receiver.OnTrailer(message.trailer());
        trailer_seen = failure.ok();
        call->cached_prompt_tokens = message.trailer().usage().cached_prompt_tokens();
        break;
      case v1::PrefillResponse::PART_NOT_SET:
        failure = absl::DataLossError("KV stream: a PrefillResponse with no part");
        break;
    }
  }
  if (!failure.ok()) context.TryCancel();
  const grpc::Status finished = reader->Finish();
  bool cancelled;
  {
    std::lock_guard lock(call->mu);
    call->prefill_context = nullptr;
    cancelled = call->cancelled;
  }
  counters_->active_kv_transfers.fetch_sub(1);
  const absl::Duration transfer = absl::Now() - transfer_start;
  if (cancelled) return;  // the reactor has finished the call
  if (failure.ok() && !finished.ok()) failure = PrefillCallError(finished, call->prefill_endpoint);
  if (failure.ok() && !trailer_seen) {
    failure = absl::DataLossError(absl::StrCat("prefill instance ", call->prefill_endpoint,
                                               ": the KV stream ended without its trailer"));
  }
  if (!failure.ok()) {
    metrics_->kv_transfer_failures().Increment();
    R1_LOG(kWarning, "decode") << "request " << call->request_id << ": " << failure;
    Fail(*call, failure);
    return;
  }
  // The first tokens go to the client once the trailer has confirmed the stream. Prefill sends
  // FirstToken last but one (it is sampled after the last layer's KV), so this costs the time
  // to first token nothing; and a prefill instance that dies before its trailer leaves the
  // client without tokens, so the gateway can still retry the request elsewhere. The engine
  // repeats these tokens after the import; the sink drops the repeats.
  const absl::Time now = absl::Now();
  v1::GenerateResponse first;
  for (int i = 0; i < call->n; ++i) {
    v1::TokenDelta* delta = first.add_samples();
    delta->set_index(static_cast<uint32_t>(i));
    const v1::TokenLogprob& token = first_token.tokens(i);
    delta->add_token_ids(token.token_id());
    if (call->params.logprobs.has_value()) *delta->add_logprobs() = token;
    call->echo_pending[static_cast<size_t>(i)] = 1;
    call->sample_last_token_at[static_cast<size_t>(i)] = now;
  }
  call->first_token_at = now;
  call->timing.set_first_token_us(Micros(now - call->received));
  metrics_->time_to_first_token().Observe(absl::ToDoubleSeconds(now - call->received));
  call->sender.Send(std::move(first));

  call->timing.set_kv_transfer_us(Micros(transfer));
  metrics_->kv_transfer_bytes().Increment(static_cast<double>(receiver.bytes_received()));
  metrics_->kv_transfer_seconds().Observe(absl::ToDoubleSeconds(transfer));
  Submit(call, receiver.TakeSnapshot());
}

void DecodeService::Submit(const std::shared_ptr<Call>& call,
                           std::optional<engine::KvSnapshot> import) {
  auto sink = [this, call](engine::TokenEvent e) {
    Call& c = *call;
    if (!c.engine_has_kv) {
      // The engine holds the prompt's KV in its own blocks now (or gave up on it).
      c.engine_has_kv = true;
      ReleaseReservation(c);
    }
    const absl::Time now = absl::Now();
    const size_t index = static_cast<size_t>(e.sample_index);
    v1::TokenDelta delta;
    delta.set_index(static_cast<uint32_t>(e.sample_index));
    if (e.token_id >= 0 && index < c.echo_pending.size()) {
      ++c.completion_tokens;
      if (c.echo_pending[index]) {
        c.echo_pending[index] = 0;  // forwarded when FirstToken arrived
      } else {
        delta.add_token_ids(e.token_id);
        AddLogprob(c.params, e, delta);
        if (!c.first_token_at.has_value()) {
          c.first_token_at = now;
          c.timing.set_first_token_us(Micros(now - c.received));
          // Local prefill (role both): the engine does not say when compute started, so its
          // prefill time is the time to the first token, queueing included.
          if (c.prefill_endpoint.empty()) c.timing.set_prefill_us(Micros(now - c.received));
          metrics_->time_to_first_token().Observe(absl::ToDoubleSeconds(now - c.received));
        }
        if (c.sample_last_token_at[index] != absl::InfinitePast()) {
          metrics_->inter_token_latency().Observe(
              absl::ToDoubleSeconds(now - c.sample_last_token_at[index]));
        }
        c.sample_last_token_at[index] = now;
        c.last_token_at = now;
      }
    }
    if (e.finish != engine::FinishReason::kNone) {
      delta.set_finish_reason(FinishReasonToProto(e.finish));
      if (e.finish == engine::FinishReason::kStopString && e.stop_index >= 0 &&
          static_cast<size_t>(e.stop_index) < c.params.stop.size()) {
        delta.set_stop_string(c.params.stop[static_cast<size_t>(e.stop_index)]);
      }
      if (e.finish == engine::FinishReason::kError) {
        delta.mutable_error()->set_code(
            static_cast<int32_t>(e.error.ok() ? absl::StatusCode::kInternal : e.error.code()));
        delta.mutable_error()->set_message(std::string(e.error.message()));
      }
      if (c.prefill_endpoint.empty()) {
        c.cached_prompt_tokens = std::max<uint32_t>(
            c.cached_prompt_tokens, static_cast<uint32_t>(std::max(0, e.num_cached_prompt_tokens)));
      }
    }
    if (delta.token_ids_size() > 0 || delta.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      v1::GenerateResponse message;
      *message.add_samples() = std::move(delta);
      c.sender.Send(std::move(message));
    }
    if (!e.request_done) return;
    v1::GenerateResponse last;
    v1::Usage* usage = last.mutable_usage();
    usage->set_prompt_tokens(static_cast<uint32_t>(c.prompt.size()));
    usage->set_completion_tokens(c.completion_tokens);
    usage->set_cached_prompt_tokens(c.cached_prompt_tokens);
    v1::TimingBreakdown* timing = last.mutable_timing();
    *timing = c.timing;
    if (c.first_token_at.has_value()) {
      timing->set_decode_us(
          Micros(std::max(c.last_token_at, *c.first_token_at) - *c.first_token_at));
    }
    timing->set_total_us(Micros(now - c.received));
    c.sender.Send(std::move(last));
    c.sender.Finish(grpc::Status::OK);
    metrics_->request_latency().Observe(absl::ToDoubleSeconds(now - c.received));
  };

  absl::StatusOr<engine::RequestId> submitted =
      import.has_value()
          ? served_->loop->SubmitImport(call->params, *std::move(import), std::move(sink))
          : served_->loop->Submit(call->prompt, call->params, {}, std::move(sink));
  if (!submitted.ok()) {
    Fail(*call, submitted.status());
    return;
  }
  std::lock_guard lock(call->mu);
  call->id = *submitted;
  call->submitted = true;
  if (call->cancelled) served_->loop->Cancel(call->id);
}

void DecodeService::Fail(Call& call, const absl::Status& status) {
  ReleaseReservation(call);
  call.sender.Finish(rpc::ToGrpcStatus(status));
}

grpc::ServerUnaryReactor* DecodeService::Load(grpc::CallbackServerContext* context,
                                              const v1::LoadRequest* request,
                                              v1::LoadReport* response) {
  return AnswerLoad(*host_, context, *served_, options_.role, *counters_, *request, response);
}

}  // namespace r1serve::services
