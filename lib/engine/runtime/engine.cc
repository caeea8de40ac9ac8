#include "lib/engine/runtime/engine.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace r1serve::engine {

// One of a request's n samples: its sequence in the scheduler and everything that decides and
// renders its tokens.
struct Engine::Sample {
  explicit Sample(SequenceSampler s) : sampler(std::move(s)) {}

  SequenceId sequence = 0;  // 0: none (not forked yet, or finished)
  SequenceSampler sampler;
  std::vector<int32_t> generated;
  // With a tokenizer: the sample's text so far, and how much of it has been sent.
  std::optional<text::StreamDetokenizer> detokenizer;
  std::optional<StopStringMatcher> stop;
  std::string text;
  size_t sent = 0;
  bool finished = false;
};

struct Engine::Request {
  RequestId id = 0;
  RequestOptions options;
  std::vector<int32_t> prompt;
  int n = 1;
  std::vector<Sample> samples;  // [n]; samples[0] owns the prompt's sequence until the fork
  // n > 1: every sample got its first token (and, unless export_kv, a sequence of its own).
  bool forked = false;
  int num_cached_prompt_tokens = -1;  // -1: not known yet (reported as 0)
  int num_finished = 0;
  // Imported KV and first tokens, until the prompt's KV has been written.
  std::optional<KvSnapshot> import;
  // options.kv_sink: logical blocks [0, streamed_blocks) of every layer have been sent.
  int streamed_blocks = 0;
};

namespace {

std::optional<int> SchedulerMaxTokens(const SamplingParams& params, bool export_kv) {
  // A prefill-only request never grows past its prompt and first token: reserving room for the
  // full max_tokens would only make admission stricter.
  if (export_kv) return 1;
  if (!params.max_tokens.has_value()) return std::nullopt;
  return static_cast<int>(std::min<uint32_t>(*params.max_tokens, INT_MAX));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(
    std::shared_ptr<const Model> model, std::unique_ptr<Backend> backend,
    std::shared_ptr<const text::Tokenizer> tokenizer, const EngineOptions& options) {
  if (model == nullptr || backend == nullptr) {
    return absl::InvalidArgumentError("an engine needs a model and a backend");
  }
  std::unique_ptr<Engine> engine(
      new Engine(std::move(model), std::move(backend), std::move(tokenizer), options));
  RETURN_IF_ERROR(engine->Init());
  return engine;
}

Engine::Engine(std::shared_ptr<const Model> model, std::unique_ptr<Backend> backend,
               std::shared_ptr<const text::Tokenizer> tokenizer, const EngineOptions& options)
    : model_(std::move(model)),
      backend_(std::move(backend)),
      tokenizer_(std::move(tokenizer)),
      options_(options) {}

Engine::~Engine() = default;

absl::Status Engine::Init() {
  const ModelConfig& c = model_->config();
  if (options_.kv_dtype != DType::kF16 && options_.kv_dtype != DType::kF32) {
    return absl::InvalidArgumentError(
        absl::StrCat("kv_dtype must be F16 or F32, got ", DTypeName(options_.kv_dtype)));
  }
  if (options_.block_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_size must be >= 1, got ", options_.block_size));
  }
  KvCacheSpec spec;
  spec.num_layers = static_cast<int>(c.num_layers);
  spec.block_size = options_.block_size;
  spec.num_kv_heads = static_cast<int>(c.num_kv_heads);
  spec.head_dim = static_cast<int>(c.head_dim);
  spec.dtype = options_.kv_dtype;
  const int64_t block_bytes =
      RowBytes(spec.dtype, int64_t{spec.num_kv_heads} * spec.block_size * spec.head_dim);
  // One block of the whole cache: K and V of every layer.
  const int64_t bytes_per_block = 2 * c.num_layers * block_bytes;
  int64_t num_blocks = options_.num_kv_blocks;
  if (num_blocks <= 0) num_blocks = options_.kv_cache_bytes / bytes_per_block;
  if (num_blocks < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("the KV cache holds ", num_blocks, " blocks (", bytes_per_block,
                     " bytes each for this model at block_size ", options_.block_size,
                     "); it needs at least 2: raise kv_cache_bytes or num_kv_blocks"));
  }
  spec.num_blocks = static_cast<int>(std::min<int64_t>(num_blocks, INT_MAX));

  SchedulerConfig& s = scheduler_config_;
  s.num_kv_blocks = spec.num_blocks;
  s.block_size = spec.block_size;
  s.max_num_batched_tokens = options_.max_num_batched_tokens;
  s.max_num_seqs = options_.max_num_seqs;
  s.watermark_blocks =
      options_.watermark_blocks >= 0 ? options_.watermark_blocks : spec.num_blocks / 100;
  s.enable_prefix_caching = options_.enable_prefix_caching;
  int64_t max_len = options_.max_model_len > 0 ? options_.max_model_len : c.max_position_embeddings;
  // The longest sequence the cache can hold alone (the KV of the final token is never needed).
  const int64_t cache_len = int64_t{s.num_kv_blocks - s.watermark_blocks} * s.block_size + 1;
  s.max_model_len = static_cast<int>(std::min({max_len, cache_len, int64_t{INT_MAX}}));
  ASSIGN_OR_RETURN(scheduler_, Scheduler::Create(s));

  RETURN_IF_ERROR(backend_->AllocateKvCache(spec));
  ASSIGN_OR_RETURN(runner_, ModelRunner::Create(*model_, backend_.get(),
                                                {.max_batch_tokens = s.max_num_batched_tokens,
                                                 .max_logit_rows = s.max_num_seqs}));

  kv_header_ = KvHeader{
      .model_fingerprint = model_->fingerprint(),
      .dtype = spec.dtype,
      .block_size = spec.block_size,
      .num_layers = spec.num_layers,
      .num_kv_heads = spec.num_kv_heads,
      .head_dim = spec.head_dim,
      .block_bytes = block_bytes,
  };
  eos_token_ids_ = options_.eos_token_ids;
  if (eos_token_ids_.empty()) {
    if (c.eos_token_id >= 0) eos_token_ids_.push_back(static_cast<int32_t>(c.eos_token_id));
    if (tokenizer_ != nullptr) {
      std::optional<text::TokenId> eos = tokenizer_->EosId();
      if (eos.has_value() && *eos < c.vocab_size &&
          std::find(eos_token_ids_.begin(), eos_token_ids_.end(), *eos) == eos_token_ids_.end()) {
        eos_token_ids_.push_back(*eos);
      }
    }
  }
  options_.sampling_limits.vocab_size = static_cast<int32_t>(c.vocab_size);
  return absl::OkStatus();
}

absl::Status Engine::ValidateRequest(std::span<const int32_t> prompt,
                                     const SamplingParams& params) const {
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
  const int64_t vocab = model_->config().vocab_size;
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] < 0 || prompt[i] >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat("prompt token ", i, " is ", prompt[i],
                                                     ", outside the vocabulary [0, ", vocab, ")"));
    }
  }
  if (static_cast<int64_t>(prompt.size()) >= scheduler_config_.max_model_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("the prompt has ", prompt.size(), " tokens; the context window of ",
                     scheduler_config_.max_model_len, " tokens leaves no room to generate"));
  }
  RETURN_IF_ERROR(ValidateSamplingParams(params, options_.sampling_limits));
  if (!params.stop.empty() && tokenizer_ == nullptr) {
    return absl::InvalidArgumentError(
        "stop strings need the model's tokenizer, and this engine has none");
  }
  return absl::OkStatus();
}

absl::StatusOr<RequestId> Engine::AddRequest(std::vector<int32_t> prompt,
                                             const SamplingParams& params,
                                             const RequestOptions& options) {
  return Enqueue(std::move(prompt), params, options, std::nullopt);
}

absl::StatusOr<RequestId> Engine::ImportRequest(const SamplingParams& params, KvSnapshot snapshot,
                                                const RequestOptions& options) {
  if (options.export_kv) {
    return absl::InvalidArgumentError("an imported request cannot export its KV again");
  }
  RETURN_IF_ERROR(CheckKvSnapshot(kv_header_, snapshot));
  const size_t n = std::max<uint32_t>(params.n, 1);
  if (snapshot.first_tokens.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("the KV snapshot carries ",
                                                   snapshot.first_tokens.size(),
                                                   " first tokens for a request of n = ", n));
  }
  for (const SampledToken& t : snapshot.first_tokens) {
    if (t.token_id < 0 || t.token_id >= model_->config().vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("the KV snapshot's first token ", t.token_id, " is outside the vocabulary"));
    }
  }
  std::vector<int32_t> prompt = snapshot.token_ids;
  return Enqueue(std::move(prompt), params, options, std::move(snapshot));
}

absl::StatusOr<RequestId> Engine::Enqueue(std::vector<int32_t> prompt, const SamplingParams& params,
                                          const RequestOptions& options,
                                          std::optional<KvSnapshot> import) {
  RETURN_IF_ERROR(ValidateRequest(prompt, params));
  if (options.kv_sink && !options.export_kv) {
    return absl::InvalidArgumentError("a KV sink needs export_kv");
  }
  const RequestId id = options.id != 0 ? options.id : ReserveRequestId();
  if (requests_.contains(id)) {
    return absl::AlreadyExistsError(absl::StrCat("request ", id, " exists already"));
  }
  auto request = std::make_unique<Request>();
  request->id = id;
  request->options = options;
  request->n = static_cast<int>(std::max<uint32_t>(params.n, 1));
  for (int i = 0; i < request->n; ++i) {
    SequenceSamplerOptions sampler_options{
        .vocab_size = static_cast<int32_t>(model_->config().vocab_size),
        .eos_token_ids = eos_token_ids_,
        .max_context_tokens = static_cast<uint32_t>(scheduler_config_.max_model_len),
        .sample_index = static_cast<uint32_t>(i),
        .defaults = options_.sampling_defaults,
        .limits = options_.sampling_limits,
    };
    ASSIGN_OR_RETURN(SequenceSampler sampler,
                     SequenceSampler::Create(params, prompt, sampler_options));
    Sample& sample = request->samples.emplace_back(std::move(sampler));
    if (tokenizer_ != nullptr) {
      sample.detokenizer.emplace(*tokenizer_,
                                 sample.sampler.params().skip_special_tokens.value_or(true));
      if (!params.stop.empty()) sample.stop.emplace(params.stop);
    }
  }
  ASSIGN_OR_RETURN(SequenceId sequence,
                   scheduler_->AddSequence(prompt, SchedulerMaxTokens(params, options.export_kv)));
  request->samples[0].sequence = sequence;
  request->prompt = std::move(prompt);
  request->import = std::move(import);
  sequence_owner_[sequence] = {id, 0};
  requests_[id] = std::move(request);
  return id;
}

absl::Status Engine::Cancel(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) {
    return absl::NotFoundError(absl::StrCat("no request ", id, " (unknown or finished)"));
  }
  Request& request = *it->second;
  for (int i = 0; i < request.n; ++i) {
    EndSample(request, i, FinishReason::kCancelled, absl::OkStatus(), pending_events_);
  }
  for (RequestId done : done_requests_) requests_.erase(done);
  done_requests_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TokenEvent>> Engine::Step() {
  std::vector<TokenEvent> events = std::move(pending_events_);
  pending_events_.clear();
  if (!scheduler_->HasUnfinishedSequences()) {
    // Every unfinished sample holds a sequence (or its request's parent does, before the fork).
    if (!requests_.empty()) {
      return absl::InternalError(
          absl::StrCat(requests_.size(), " requests are unfinished but hold no sequence"));
    }
    return events;
  }
  ASSIGN_OR_RETURN(StepPlan plan, scheduler_->Step());
  if (plan.empty()) return events;
  ++steps_;

  if (!plan.block_copies.empty()) {
    std::vector<std::pair<int32_t, int32_t>> copies;
    for (const BlockCopy& copy : plan.block_copies) copies.emplace_back(copy.src, copy.dst);
    backend_->CopyKvBlocks(copies);
  }
  // Every planned sequence belongs to a live request: a finished or cancelled sample's sequence
  // has left the scheduler.
  std::vector<Request*> owners;
  std::vector<SequenceChunk> chunks;
  for (const ScheduledSequence& s : plan.sequences) {
    Request* request = requests_.at(sequence_owner_.at(s.id).first).get();
    owners.push_back(request);
    if (request->import.has_value()) {
      WriteImportedKv(*request, s);
      continue;
    }
    chunks.push_back(SequenceChunk{.token_ids = s.token_ids,
                                   .start_position = s.start,
                                   .block_table = s.block_table,
                                   .wants_logits = s.samples});
    computed_tokens_ += static_cast<uint64_t>(s.num_tokens());
  }
  // Export requests that stream their KV: the blocks that become complete in this pass.
  struct KvStream {
    Request* request;
    const ScheduledSequence* sequence;
    int first_block, end_block;
  };
  std::vector<KvStream> streams;
  for (size_t i = 0; i < plan.sequences.size(); ++i) {
    Request& request = *owners[i];
    if (!request.options.kv_sink || request.import.has_value()) continue;
    const ScheduledSequence& s = plan.sequences[i];
    const int block_size = scheduler_config_.block_size;
    const bool last_chunk = s.end == static_cast<int32_t>(request.prompt.size());
    const int end_block = last_chunk ? (s.end + block_size - 1) / block_size : s.end / block_size;
    if (end_block > request.streamed_blocks) {
      streams.push_back({&request, &s, request.streamed_blocks, end_block});
    }
  }
  auto send_layer = [&](int layer) {
    for (const KvStream& stream : streams) {
      const int max_blocks = stream.request->options.kv_sink_max_blocks;
      for (int first = stream.first_block; first < stream.end_block;) {
        const int n = max_blocks > 0 ? std::min(max_blocks, stream.end_block - first)
                                     : stream.end_block - first;
        const std::span<const int32_t> blocks(stream.sequence->block_table.data() + first,
                                              static_cast<size_t>(n));
        const size_t half = static_cast<size_t>(n) * static_cast<size_t>(kv_header_.block_bytes);
        KvLayerBlocks out{.layer = layer, .first_block = first, .num_blocks = n};
        out.k.resize(half);
        out.v.resize(half);
        backend_->ReadKvBlocks(layer, blocks, out.k.data(), out.v.data());
        stream.request->options.kv_sink(std::move(out));
        first += n;
      }
    }
  };

  std::span<float> logits;
  if (!chunks.empty()) {
    absl::StatusOr<std::span<float>> forward =
        streams.empty() ? runner_->Forward(chunks) : runner_->Forward(chunks, send_layer);
    if (!forward.ok()) {
      // The KV of every planned sequence is now undefined: end their requests.
      const absl::Status error(forward.status().code(),
                               absl::StrCat("forward pass failed: ", forward.status().message()));
      for (Request* request : owners) FailRequest(*request, error, events);
      for (RequestId done : done_requests_) requests_.erase(done);
      done_requests_.clear();
      return events;
    }
    logits = *forward;
  }
  for (const KvStream& stream : streams) stream.request->streamed_blocks = stream.end_block;

  const size_t vocab = static_cast<size_t>(model_->config().vocab_size);
  size_t row = 0;
  for (size_t i = 0; i < plan.sequences.size(); ++i) {
    const ScheduledSequence& s = plan.sequences[i];
    if (!s.samples) continue;
    Request& request = *owners[i];
    if (request.import.has_value()) {
      OnSamplingStep(request, s, {}, events);
      continue;
    }
    OnSamplingStep(request, s, logits.subspan(row * vocab, vocab), events);
    ++row;
  }
  for (RequestId done : done_requests_) requests_.erase(done);
  done_requests_.clear();
  return events;
}

void Engine::WriteImportedKv(const Request& request, const ScheduledSequence& s) {
  const KvSnapshot& kv = *request.import;
  const int block_size = kv.header.block_size;
  const size_t block_bytes = static_cast<size_t>(kv.header.block_bytes);
  const size_t snapshot_blocks = static_cast<size_t>(kv.num_blocks());
  // Whole blocks: the slots of these blocks outside [start, end) belong to this sequence's own
  // prompt too (written before or about to be), so rewriting them with the same KV is harmless.
  const size_t first = static_cast<size_t>(s.start / block_size);
  const size_t last = static_cast<size_t>((s.end - 1) / block_size);
  const size_t count = last - first + 1;
  const std::span<const int32_t> blocks(s.block_table.data() + first, count);
  for (int layer = 0; layer < kv_header_.num_layers; ++layer) {
    const std::string& bytes = kv.layers[static_cast<size_t>(layer)];
    backend_->WriteKvBlocks(layer, blocks, bytes.data() + first * block_bytes,
                            bytes.data() + (snapshot_blocks + first) * block_bytes);
  }
}

void Engine::OnSamplingStep(Request& request, const ScheduledSequence& s, std::span<float> logits,
                            std::vector<TokenEvent>& events) {
  if (request.num_cached_prompt_tokens < 0) {
    absl::StatusOr<SequenceInfo> info = scheduler_->GetSequence(s.id);
    if (info.ok()) request.num_cached_prompt_tokens = std::max(info->num_cached_prompt_tokens, 0);
  }
  // The first sampling step of a request with n > 1 samples gives every sample its first token
  // from the prompt's logits (or the exporter's first tokens); later steps serve one sample each.
  std::vector<int> indices = {sequence_owner_.at(s.id).second};
  if (request.n > 1 && !request.forked) {
    request.forked = true;
    indices.clear();
    for (int i = 0; i < request.n; ++i) indices.push_back(i);
    // A prefill-only request ends at this step: its samples need no sequences of their own.
    if (!request.options.export_kv) {
      absl::StatusOr<std::vector<SequenceId>> children = scheduler_->Fork(s.id, request.n);
      if (!children.ok()) return FailRequest(request, children.status(), events);
      for (int i = 1; i < request.n; ++i) {
        const SequenceId child = (*children)[static_cast<size_t>(i - 1)];
        request.samples[static_cast<size_t>(i)].sequence = child;
        sequence_owner_[child] = {request.id, i};
      }
    }
  }

  if (request.import.has_value()) {
    // The exporter's first tokens stand for the logits this engine did not compute.
    const std::vector<SampledToken> tokens = std::move(request.import->first_tokens);
    request.import.reset();
    for (int i : indices) Deliver(request, i, tokens[static_cast<size_t>(i)], events);
    return;
  }

  std::shared_ptr<KvSnapshot> snapshot;
  if (request.options.export_kv && request.options.kv_sink) {
    snapshot = std::make_shared<KvSnapshot>();  // the KV went out through the sink
    snapshot->header = kv_header_;
    snapshot->token_ids = request.prompt;
  } else if (request.options.export_kv) {
    absl::StatusOr<KvSnapshot> taken = Snapshot(request.prompt, s.block_table);
    if (!taken.ok()) return FailRequest(request, taken.status(), events);
    snapshot = std::make_shared<KvSnapshot>(*std::move(taken));
  }
  for (int i : indices) {
    Sample& sample = request.samples[static_cast<size_t>(i)];
    absl::StatusOr<SampledToken> token = sample.sampler.Sample(logits, workspace_);
    if (!token.ok()) {
      EndSample(request, i, FinishReason::kError, token.status(), events);
      continue;
    }
    if (snapshot != nullptr) snapshot->first_tokens.push_back(*token);
    Deliver(request, i, *token, events);
  }
  if (request.options.export_kv) {
    // The prompt's full blocks stay in the prefix cache for the next request with this prefix.
    if (request.samples[0].sequence != 0) {
      scheduler_->Finish(request.samples[0].sequence, FinishReason::kLength).IgnoreError();
      sequence_owner_.erase(request.samples[0].sequence);
      request.samples[0].sequence = 0;
    }
    if (!events.empty() && events.back().request == request.id && events.back().request_done) {
      events.back().kv = std::move(snapshot);
    }
  }
}

void Engine::Deliver(Request& request, int index, const SampledToken& token,
                     std::vector<TokenEvent>& events) {
  Sample& sample = request.samples[static_cast<size_t>(index)];
  absl::StatusOr<FinishReason> appended = sample.sampler.Append(token.token_id);
  if (!appended.ok()) {
    EndSample(request, index, FinishReason::kError, appended.status(), events);
    return;
  }
  FinishReason reason = *appended;
  sample.generated.push_back(token.token_id);
  ++generated_tokens_;

  TokenEvent event;
  event.request = request.id;
  event.sample_index = index;
  event.token_id = token.token_id;
  event.logprob = token.logprob;
  event.top_logprobs = token.top_logprobs;

  bool stopped = false;
  if (sample.detokenizer.has_value()) {
    // An id the tokenizer does not know (a model's padding rows) renders as no text.
    absl::StatusOr<std::string> piece = sample.detokenizer->Push(token.token_id);
    const std::string_view text = piece.ok() ? std::string_view(*piece) : std::string_view();
    sample.text += text;
    size_t safe_end = sample.text.size();
    if (sample.stop.has_value()) {
      const StopStringMatcher::Progress progress =
          sample.stop->Append(text, sample.sampler.stop_strings_active());
      safe_end = progress.safe_end;
      stopped = progress.stopped;
      if (stopped) event.stop_index = progress.stop_index;
    }
    event.text = sample.text.substr(sample.sent, safe_end - sample.sent);
    sample.sent = safe_end;
    // The token-level reasons come first (the sampler's order); a stop string cuts the text
    // either way.
    if (stopped && reason == FinishReason::kNone) reason = FinishReason::kStopString;
  }

  if (!request.options.export_kv) {
    if (reason == FinishReason::kNone) {
      absl::StatusOr<FinishReason> scheduled =
          scheduler_->AppendToken(sample.sequence, token.token_id);
      if (scheduled.ok()) {
        reason = *scheduled;
        if (reason != FinishReason::kNone) {  // the scheduler has forgotten the sequence
          sequence_owner_.erase(sample.sequence);
          sample.sequence = 0;
        }
      } else {
        reason = FinishReason::kError;
        event.error = scheduled.status();
      }
    }
    if (reason != FinishReason::kNone && sample.sequence != 0) {
      absl::Status finished = scheduler_->Finish(sample.sequence, reason);
      if (!finished.ok() && event.error.ok()) event.error = finished;
      sequence_owner_.erase(sample.sequence);
      sample.sequence = 0;
    }
  }
  if (reason != FinishReason::kNone && !stopped && sample.detokenizer.has_value()) {
    // Ended otherwise: everything held back is final.
    sample.text += sample.detokenizer->Finish();
    event.text += sample.text.substr(sample.sent);
    sample.sent = sample.text.size();
  }
  event.finish = reason;
  if (reason != FinishReason::kNone || request.options.export_kv) {
    sample.finished = true;
    OnSampleFinished(request, event);
  }
  events.push_back(std::move(event));
}

void Engine::EndSample(Request& request, int index, FinishReason reason, absl::Status error,
                       std::vector<TokenEvent>& events) {
  Sample& sample = request.samples[static_cast<size_t>(index)];
  if (sample.finished) return;
  if (sample.sequence != 0) {
    absl::Status finished = scheduler_->Finish(sample.sequence, reason);
    if (!finished.ok() && error.ok() && reason == FinishReason::kError) error = finished;
    sequence_owner_.erase(sample.sequence);
    sample.sequence = 0;
  }
  TokenEvent event;
  event.request = request.id;
  event.sample_index = index;
  event.finish = reason;
  event.error = std::move(error);
  sample.finished = true;
  OnSampleFinished(request, event);
  events.push_back(std::move(event));
}

void Engine::FailRequest(Request& request, const absl::Status& error,
                         std::vector<TokenEvent>& events) {
  for (int i = 0; i < request.n; ++i) EndSample(request, i, FinishReason::kError, error, events);
}

void Engine::OnSampleFinished(Request& request, TokenEvent& event) {
  const Sample& sample = request.samples[static_cast<size_t>(event.sample_index)];
  event.num_prompt_tokens = static_cast<int>(request.prompt.size());
  event.num_cached_prompt_tokens = std::max(request.num_cached_prompt_tokens, 0);
  event.num_generated_tokens = static_cast<int>(sample.generated.size());
  if (++request.num_finished == request.n) {
    event.request_done = true;
    done_requests_.push_back(request.id);
  }
}

absl::StatusOr<KvSnapshot> Engine::Snapshot(std::span<const int32_t> token_ids,
                                            std::span<const KvBlockId> block_table) const {
  KvSnapshot snapshot;
  snapshot.header = kv_header_;
  snapshot.token_ids.assign(token_ids.begin(), token_ids.end());
  const size_t num_blocks = static_cast<size_t>(snapshot.num_blocks());
  if (block_table.size() < num_blocks) {
    return absl::InternalError(absl::StrCat("a sequence of ", token_ids.size(), " tokens has ",
                                            block_table.size(), " KV blocks"));
  }
  const std::span<const int32_t> blocks = block_table.first(num_blocks);
  snapshot.layers.resize(static_cast<size_t>(kv_header_.num_layers));
  for (int layer = 0; layer < kv_header_.num_layers; ++layer) {
    std::string& bytes = snapshot.layers[static_cast<size_t>(layer)];
    const size_t half = num_blocks * static_cast<size_t>(kv_header_.block_bytes);
    bytes.resize(2 * half);  // [num_blocks] K blocks, then [num_blocks] V blocks
    backend_->ReadKvBlocks(layer, blocks, bytes.data(), bytes.data() + half);
  }
  return snapshot;
}

absl::StatusOr<KvSnapshot> Engine::ExportKv(RequestId id, int sample_index) const {
  auto it = requests_.find(id);
  if (it == requests_.end()) return absl::NotFoundError(absl::StrCat("no request ", id));
  const Request& request = *it->second;
  if (sample_index < 0 || sample_index >= request.n) {
    return absl::NotFoundError(
        absl::StrCat("request ", id, " has no sample ", sample_index, " (n = ", request.n, ")"));
  }
  const Sample& sample = request.samples[static_cast<size_t>(sample_index)];
  if (sample.sequence == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("sample ", sample_index, " of request ", id, " has no KV yet"));
  }
  ASSIGN_OR_RETURN(SequenceInfo info, scheduler_->GetSequence(sample.sequence));
  if (info.num_computed_tokens == 0 || request.import.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("sample ", sample_index, " of request ", id,
                                                      " holds no computed KV now (waiting)"));
  }
  std::vector<int32_t> tokens = request.prompt;
  tokens.insert(tokens.end(), sample.generated.begin(), sample.generated.end());
  tokens.resize(static_cast<size_t>(info.num_computed_tokens));
  return Snapshot(tokens, info.block_table);
}

EngineLoad Engine::Load() const {
  EngineLoad load;
  load.scheduler = scheduler_->Load();
  load.num_requests = static_cast<int>(requests_.size());
  load.kv_cache_bytes =
      int64_t{scheduler_config_.num_kv_blocks} * 2 * kv_header_.num_layers * kv_header_.block_bytes;
  load.block_size = scheduler_config_.block_size;
  load.steps = steps_;
  load.computed_tokens = computed_tokens_;
  load.generated_tokens = generated_tokens_;
  return load;
}

std::vector<uint64_t> Engine::CachedBlockHashes(size_t max_hashes) const {
  return scheduler_->CachedBlockHashes(max_hashes);
}

}  // namespace r1serve::engine
