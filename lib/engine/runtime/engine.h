// Engine: one model on one backend serving many requests at once. It ties together the
// scheduler (continuous batching over the paged KV cache), the ModelRunner (the forward pass)
// and one SequenceSampler per sample, plus, when given a tokenizer, streaming detokenization and
// stop strings. This is what the prefill and decode services (and r1serve-generate) drive.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
//                    Engine::Create(model, CreateCpuBackend({}), tokenizer, EngineOptions{}));
//   ASSIGN_OR_RETURN(RequestId id, engine->AddRequest(prompt_ids, params));
//   while (engine->HasWork()) {
//     ASSIGN_OR_RETURN(std::vector<TokenEvent> events, engine->Step());
//     for (const TokenEvent& e : events) Send(e);  // token, logprobs, text, finish reason
//   }
//
// A request is a prompt and SamplingParams with n >= 1 samples. Its prompt is computed once;
// with n > 1 the sequence is forked right after its logits come out (the samples share the
// prompt's KV blocks, copy on write) and each sample draws its first token from those same
// logits with its own generator (seed, sample index).
//
// Events: Step() returns, for every sample that produced something, one TokenEvent per token it
// generated. The last event of a sample has `finish` set; the last event of a request has
// `request_done` set, after which the request id is unknown. Cancel() and failures produce
// their final events too (finish kCancelled / kError, no token), returned by the next Step():
// whoever forwards events can rely on exactly one request_done per accepted request.
//
// Prefill -> decode handoff: a request added with RequestOptions.export_kv computes its prompt,
// draws the first token of each sample, and ends: its last event carries a KvSnapshot of the
// prompt's KV and those tokens. ImportRequest() on the decode engine (same model fingerprint
// and cache geometry, see KvHeader) takes the snapshot, writes the KV into its own blocks without
// computing anything, reports the imported first tokens as the request's first events and
// continues decoding; with the same seed the samples are the ones a single engine would draw.
// ExportKv() snapshots any live sample's computed KV between steps.
//
// Threads: ValidateRequest, ReserveRequestId and the accessors of the "Thread-safe" section
// below may be called from any thread; everything else (Load() included) belongs to one thread,
// the one that steps. Services use EngineLoop (engine_loop.h), which owns that thread, lets any
// thread submit and cancel, and publishes Load() after every step.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/engine/backend/backend.h"
#include "lib/engine/format/model.h"
#include "lib/engine/runtime/kv_snapshot.h"
#include "lib/engine/runtime/model_runner.h"
#include "lib/engine/sampler/finish_reason.h"
#include "lib/engine/sampler/sampling_params.h"
#include "lib/engine/sampler/sequence_sampler.h"
#include "lib/engine/sampler/stop_string_matcher.h"
#include "lib/engine/scheduler/scheduler.h"
#include "lib/text/stream_detokenizer.h"
#include "lib/text/tokenizer.h"

namespace r1serve::engine {

// Assigned by the engine (ReserveRequestId), increasing from 1, never reused.
using RequestId = uint64_t;

struct EngineOptions {
  // KV cache size: num_kv_blocks blocks when > 0, else as many as kv_cache_bytes holds.
  int num_kv_blocks = 0;
  int64_t kv_cache_bytes = int64_t{1} << 30;
  int block_size = 16;
  DType kv_dtype = DType::kF16;       // F16 or F32
  int max_num_batched_tokens = 2048;  // rows of one forward pass (prefill chunking budget)
  int max_num_seqs = 64;              // sequences in the running batch
  // Context window; 0: the model's max_position_embeddings. Capped so that one sequence of
  // that length fits in the cache.
  int max_model_len = 0;
  // Blocks admission keeps free for running sequences to grow into; -1: 1% of the cache.
  int watermark_blocks = -1;
  bool enable_prefix_caching = true;
  // Fill the unset knobs of requests' SamplingParams (see LoadGenerationConfig).
  SamplingDefaults sampling_defaults;
  SamplingLimits sampling_limits;  // vocab_size is the model's
  // Tokens that end a sample (unless ignore_eos). Empty: the model config's eos_token_id and the
  // tokenizer's eos token.
  std::vector<int32_t> eos_token_ids;
};

// One layer's KV of consecutive whole blocks of a prompt, streamed out of an export_kv request
// (RequestOptions::kv_sink).
struct KvLayerBlocks {
  int layer = 0;
  int first_block = 0;  // logical: block j holds prompt positions [j * block_size, ...)
  int num_blocks = 0;
  // [num_blocks, num_kv_heads, block_size, head_dim] each, in the cache's dtype. Slots past the
  // prompt in its last block hold whatever the cache held there.
  std::string k = {};
  std::string v = {};
};

struct RequestOptions {
  RequestId id = 0;  // 0: a fresh one; else one from ReserveRequestId() not used before
  // Prefill role: compute the prompt, draw each sample's first token and end the request; its
  // last event carries the KvSnapshot (see the file comment).
  bool export_kv = false;
  // export_kv only. When set, the prompt's KV is streamed instead of snapshotted: during Step(),
  // on the stepping thread, right after each layer's KV is written, the sink receives that
  // layer's blocks that have just become complete (a block when all its positions are computed,
  // the last, partial block with the prompt's last chunk). Every (layer, block) of the prompt
  // is sent exactly once, layers in order within a step, even across preemption and recompute;
  // blocks found in the prefix cache go out with the first computed chunk. The last event's
  // KvSnapshot then carries the header, token ids and first tokens but no layers. The sink must
  // be quick (it runs inside the forward pass).
  std::function<void(KvLayerBlocks)> kv_sink = nullptr;
  // kv_sink only, > 0: a layer's new blocks come in pieces of at most this many blocks (so that
  // a sink cutting messages of that size can move each piece's bytes instead of copying them).
  int kv_sink_max_blocks = 0;
};

struct TokenEvent {
  RequestId request = 0;
  int sample_index = 0;  // which of the request's n samples
  // The generated token, or -1 for an event that only ends the sample (cancelled, failed).
  int32_t token_id = -1;
  std::optional<float> logprob;            // when SamplingParams.logprobs is set
  std::vector<TokenLogprob> top_logprobs;  // its alternatives, most likely first
  // Text that became final with this token (with a tokenizer): UTF-8 held back until complete,
  // a possible beginning of a stop string held back until it is decided, a stop string and
  // what follows it dropped.
  std::string text;
  FinishReason finish = FinishReason::kNone;  // set on the sample's last event
  // finish kStopString: which of SamplingParams.stop matched (the services name it).
  int stop_index = -1;
  absl::Status error;         // why, when finish is kError
  bool request_done = false;  // the request's last event
  // On a sample's last event: usage.
  int num_prompt_tokens = 0;
  int num_cached_prompt_tokens = 0;  // prompt tokens found in the prefix cache (first admission)
  int num_generated_tokens = 0;
  // export_kv requests: on the request's last event.
  std::shared_ptr<const KvSnapshot> kv;
};

// Load of the instance for metrics and LoadReport.
struct EngineLoad {
  SchedulerLoad scheduler;
  int num_requests = 0;
  int64_t kv_cache_bytes = 0;
  int block_size = 0;
  uint64_t steps = 0;            // forward passes so far
  uint64_t computed_tokens = 0;  // rows of forward passes: prompts, decodes, recomputation
  uint64_t generated_tokens = 0;
};

class Engine {
 public:
  // Allocates the KV cache on `backend`, uploads the weights and sizes everything from
  // `options`. INVALID_ARGUMENT naming the option when they are unusable (e.g. a cache too small
  // for one block per layer). `tokenizer` may be null: then events have no text and stop
  // strings are refused.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(
      std::shared_ptr<const Model> model, std::unique_ptr<Backend> backend,
      std::shared_ptr<const text::Tokenizer> tokenizer, const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- Thread-safe.

  // A request id for RequestOptions.id (what EngineLoop hands out before the request is added).
  RequestId ReserveRequestId() { return next_request_id_.fetch_add(1); }

  // INVALID_ARGUMENT, with a message a user can act on, when AddRequest would refuse the request:
  // an empty prompt, a token outside the vocabulary, a prompt that leaves no room in the context
  // window, a sequence that could never fit in the KV cache, invalid sampling parameters, stop
  // strings without a tokenizer.
  absl::Status ValidateRequest(std::span<const int32_t> prompt, const SamplingParams& params) const;

  const Model& model() const { return *model_; }
  const ModelConfig& model_config() const { return model_->config(); }
  const text::Tokenizer* tokenizer() const { return tokenizer_.get(); }
  const KvHeader& kv_header() const { return kv_header_; }
  const SchedulerConfig& scheduler_config() const { return scheduler_config_; }
  int max_model_len() const { return scheduler_config_.max_model_len; }
  const std::vector<int32_t>& eos_token_ids() const { return eos_token_ids_; }

  // ---- The stepping thread only.

  // Queues a request; its samples start at the next Step(). Errors as ValidateRequest, and
  // ALREADY_EXISTS for a reused RequestOptions.id.
  absl::StatusOr<RequestId> AddRequest(std::vector<int32_t> prompt, const SamplingParams& params,
                                       const RequestOptions& options = {});

  // Queues a request whose prompt (snapshot.token_ids) KV and first tokens come from another
  // engine (see the file comment). FAILED_PRECONDITION when the snapshot's header does not match
  // kv_header(); INVALID_ARGUMENT when the snapshot is inconsistent, has not one first token per
  // sample, or the request is invalid (as AddRequest). export_kv is not allowed here.
  absl::StatusOr<RequestId> ImportRequest(const SamplingParams& params, KvSnapshot snapshot,
                                          const RequestOptions& options = {});

  // Ends every sample of the request now and frees its KV blocks; their final events (finish
  // kCancelled) come with the next Step(). NOT_FOUND for an unknown or finished request.
  absl::Status Cancel(RequestId id);

  // One scheduler step, its forward pass and the sampling of its sampling sequences. Returns the
  // events of this step (and of cancellations since the last one). An error here means the
  // engine is broken (an internal invariant failed); a failed forward pass or sample instead
  // ends the affected samples with kError events.
  absl::StatusOr<std::vector<TokenEvent>> Step();

  // Whether Step() has anything to do: unfinished requests or undelivered events.
  bool HasWork() const { return !requests_.empty() || !pending_events_.empty(); }

  // The computed KV of one sample of a live request (the prompt and the generated tokens whose
  // KV is in the cache), with no first tokens. FAILED_PRECONDITION when the sample has no KV now
  // (waiting, preempted, or not yet forked); NOT_FOUND for an unknown request or sample.
  absl::StatusOr<KvSnapshot> ExportKv(RequestId id, int sample_index = 0) const;

  EngineLoad Load() const;
  // Routing hashes of the prefix cache, most recently used first (Scheduler::CachedBlockHashes);
  // a scan of the cache: not for every step.
  std::vector<uint64_t> CachedBlockHashes(size_t max_hashes) const;

 private:
  struct Sample;
  struct Request;

  Engine(std::shared_ptr<const Model> model, std::unique_ptr<Backend> backend,
         std::shared_ptr<const text::Tokenizer> tokenizer, const EngineOptions& options);
  absl::Status Init();

  absl::StatusOr<RequestId> Enqueue(std::vector<int32_t> prompt, const SamplingParams& params,
                                    const RequestOptions& options,
                                    std::optional<KvSnapshot> import);
  // Writes the imported KV of positions [s.start, s.end) into s.block_table's blocks.
  void WriteImportedKv(const Request& request, const ScheduledSequence& s);
  // The request's sequence `s` produced logits (or, imported, its first tokens): forks it into
  // n samples when due, and hands each sample its token.
  void OnSamplingStep(Request& request, const ScheduledSequence& s, std::span<float> logits,
                      std::vector<TokenEvent>& events);
  // Records sample `index`'s new token: sampler, text, stop strings, scheduler. Emits its event.
  void Deliver(Request& request, int index, const SampledToken& token,
               std::vector<TokenEvent>& events);
  // Ends a sample that produced no token (cancelled, failed), freeing its sequence.
  void EndSample(Request& request, int index, FinishReason reason, absl::Status error,
                 std::vector<TokenEvent>& events);
  // Ends every unfinished sample of the request with kError.
  void FailRequest(Request& request, const absl::Status& error, std::vector<TokenEvent>& events);
  // Fills usage and request_done on a sample's last event; forgets a finished request.
  void OnSampleFinished(Request& request, TokenEvent& event);
  absl::StatusOr<KvSnapshot> Snapshot(std::span<const int32_t> token_ids,
                                      std::span<const KvBlockId> block_table) const;

  const std::shared_ptr<const Model> model_;
  const std::unique_ptr<Backend> backend_;
  const std::shared_ptr<const text::Tokenizer> tokenizer_;
  EngineOptions options_;
  SchedulerConfig scheduler_config_;
  KvHeader kv_header_;
  std::vector<int32_t> eos_token_ids_;
  std::atomic<RequestId> next_request_id_{1};

  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ModelRunner> runner_;
  SamplingWorkspace workspace_;
  absl::flat_hash_map<RequestId, std::unique_ptr<Request>> requests_;
  // Which request and sample each scheduler sequence is.
  absl::flat_hash_map<SequenceId, std::pair<RequestId, int>> sequence_owner_;
  std::vector<TokenEvent> pending_events_;
  std::vector<RequestId> done_requests_;  // finished during the current call; erased at its end

  uint64_t steps_ = 0;
  uint64_t computed_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
};

}  // namespace r1serve::engine
