// Scheduler: continuous batching over a paged KV cache. Sequences join and leave the running
// batch at every step; each Step() decides which token positions of which sequences the next
// forward pass computes, which KV blocks they use, and which block copies must happen first.
// Pure bookkeeping: no device, no clock, no threads; the same calls give the same plans.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Scheduler> scheduler, Scheduler::Create(config));
//   ASSIGN_OR_RETURN(SequenceId id, scheduler->AddSequence(prompt_ids, /*max_tokens=*/512));
//   while (scheduler->HasUnfinishedSequences()) {
//     ASSIGN_OR_RETURN(StepPlan plan, scheduler->Step());
//     backend.CopyBlocks(plan.block_copies);          // copy on write, before anything else
//     Logits logits = backend.Forward(plan.sequences);  // writes KV of [start, end) of each
//     for (const ScheduledSequence& s : plan.sequences) {
//       if (!s.samples) continue;
//       int32_t token = sampler.Sample(logits, s.id);
//       ASSIGN_OR_RETURN(FinishReason why, scheduler->AppendToken(s.id, token));
//       if (why == FinishReason::kNone && IsEos(token))
//         RETURN_IF_ERROR(scheduler->Finish(s.id, FinishReason::kEos));
//     }
//   }
//
// Life of a sequence: kWaiting -> (admitted) kPrefilling -> (last prompt chunk planned)
// kDecoding -> finished (AppendToken reports kLength / kContextLength, or the engine calls
// Finish / Cancel; the sequence is then forgotten and its id is NOT_FOUND). When KV blocks run
// out, a running sequence is preempted: kPreempted, back in the waiting queue without KV, and
// recomputed from scratch (prompt plus generated tokens) when re-admitted.
//
// Policy of one Step() (a budget of max_num_batched_tokens tokens, at most max_num_seqs running):
// 1. Commit: full blocks written by the previous plan join the prefix cache.
// 2. Decode: every running kDecoding sequence computes its 1 newest token, oldest admission first.
//    Decode goes first so that inter-token latency does not depend on prompt arrivals.
// 3. Prefill: running kPrefilling sequences (admitted in earlier steps) continue their prompt in
//    chunks of min(remaining, budget left), oldest admission first.
// 4. Admission (only if nothing was preempted in this step, so that admitting cannot undo a
//    preemption's work at once): waiting sequences in arrival order (a preempted sequence keeps
//    its place, so it comes back before newer arrivals). The head is admitted when a running slot
//    and budget remain and, after its prefix-cache hit, the blocks for all its tokens fit with
//    watermark_blocks to spare; else admission stops for this step (no skipping ahead, so large
//    prompts are not starved). An admitted sequence starts its first chunk in the same step.
// Whenever a block is needed and none is available (decode growth, a copy on write, a prefill
// chunk), the most recently admitted running sequence (fork children rank with their parent) is
// preempted (recompute) until it fits; if that is the sequence itself, it waits. The oldest
// sequence therefore always progresses, and AddSequence refuses a sequence that could not fit in
// the whole cache on its own.
// The prefix cache is used at every admission (re-admissions count in its query counters too):
// the longest cached chain of full blocks, capped so that at least the last token is computed
// (its logits are needed).
//
// Contract with the engine (one thread drives the scheduler):
// - Between two Step() calls the forward pass of the first plan has completed, and every sequence
//   whose entry had `samples` has been given AppendToken or Finish/Cancel (Step() answers
//   FAILED_PRECONDITION otherwise). Blocks are only allocated inside Step(), so Cancel is safe at
//   any time: a block it frees is not handed out before the next Step().
// - Fork(id, n) after the step that sampled id (n samples from the same logits): the children
//   share the parent's KV blocks and each gets its own AppendToken.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/engine/kv/block_allocator.h"
#include "lib/engine/kv/block_table.h"
#include "lib/engine/kv/prefix_cache.h"
#include "lib/engine/sampler/finish_reason.h"

namespace r1serve::engine {

// Assigned by the scheduler, increasing from 1, never reused.
using SequenceId = uint64_t;

enum class SequenceState {
  kWaiting,     // not admitted yet (a fork child that found no running slot also waits here)
  kPrefilling,  // admitted; prompt (plus, after a preemption, generated) tokens being computed
  kDecoding,    // all tokens computed but the newest sampled one; one token per step
  kPreempted,   // lost its KV for lack of blocks; waits to be recomputed
};

struct SchedulerConfig {
  int num_kv_blocks = 0;              // blocks in the KV cache (the allocator's pool)
  int block_size = 16;                // tokens per block
  int max_num_batched_tokens = 2048;  // tokens computed per step over all sequences; must be
                                      // >= max_num_seqs so that every decode fits every step
  int max_num_seqs = 256;             // sequences in the running batch
  int max_model_len = 0;     // context window: most tokens (prompt + generated) per sequence
  int watermark_blocks = 0;  // admission leaves this many blocks available for running sequences
                             // to grow into, which keeps preemptions rare
  bool enable_prefix_caching = true;
};

// One sequence's share of a step.
struct ScheduledSequence {
  SequenceId id = 0;
  // Token positions whose KV this step computes: [start, end). Positions before `start` are in
  // the KV cache already.
  int32_t start = 0;
  int32_t end = 0;
  std::vector<int32_t> token_ids;  // [end - start]: the tokens at those positions
  // The logits at position end - 1 are sampled (last chunk of a prompt, or a decode). The engine
  // answers with AppendToken or Finish for this id before the next Step().
  bool samples = false;
  // Physical KV blocks of positions [0, end): position p lives in block_table[p / block_size],
  // slot p % block_size.
  std::vector<KvBlockId> block_table;

  int num_tokens() const { return end - start; }
};

// What the next forward pass does.
struct StepPlan {
  // Copy-on-write block copies, to perform in this order before the forward pass.
  std::vector<BlockCopy> block_copies;
  // Decodes first (oldest admission first), then prefill chunks (continued, then newly admitted).
  std::vector<ScheduledSequence> sequences;
  // Sequences preempted during this step (their KV is gone; they wait to be recomputed).
  std::vector<SequenceId> preempted;
  int num_batched_tokens = 0;  // sum of num_tokens() over `sequences`

  bool empty() const { return sequences.empty(); }
};

// A snapshot of one sequence.
struct SequenceInfo {
  SequenceState state = SequenceState::kWaiting;
  int num_prompt_tokens = 0;     // as added (generated tokens never count here)
  int num_generated_tokens = 0;  // tokens appended by AppendToken (a fork child: its parent's too)
  int num_tokens = 0;            // prompt plus generated
  int num_computed_tokens = 0;   // KV positions computed or planned; 0 while waiting
  // Prompt tokens whose KV came from the prefix cache at the first admission (Usage
  // .cached_prompt_tokens); -1 before the first admission.
  int num_cached_prompt_tokens = -1;
  int num_preemptions = 0;
  bool awaiting_token = false;  // planned to sample; AppendToken or Finish is due
  std::vector<KvBlockId> block_table;
};

// Load of the instance for metrics and LoadReport.
struct SchedulerLoad {
  int running_sequences = 0;
  int waiting_sequences = 0;    // never admitted
  int preempted_sequences = 0;  // waiting to be recomputed
  int max_running_sequences = 0;
  int64_t queued_prompt_tokens = 0;  // tokens the waiting and preempted sequences must prefill
  int64_t running_tokens = 0;        // tokens held by running sequences (context lengths)
  uint64_t preemptions = 0;          // counter since start
  bool prefix_caching_enabled = false;
  KvBlockAllocator::Stats kv;
  PrefixCache::Stats prefix_cache;
};

class Scheduler {
 public:
  // INVALID_ARGUMENT naming the field when `config` is unusable.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(const SchedulerConfig& config);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a sequence (kWaiting). `max_tokens` (>= 1) bounds the generated tokens; nullopt means
  // until the context window is full. INVALID_ARGUMENT for an empty prompt, a prompt that leaves
  // no room in max_model_len, or a sequence whose longest possible KV would not fit in the cache
  // (minus the watermark) even alone.
  absl::StatusOr<SequenceId> AddSequence(std::vector<int32_t> prompt_tokens,
                                         std::optional<int> max_tokens);

  // Plans the next forward pass (see the policy above). An empty plan means nothing can run now.
  // FAILED_PRECONDITION when a sampled token of the previous plan has not been reported.
  absl::StatusOr<StepPlan> Step();

  // The token sampled for sequence `id`, which must be awaiting one. Returns kNone when the
  // sequence goes on, or kLength / kContextLength when this token ended it (it is then finished
  // and forgotten; the token counts as generated).
  absl::StatusOr<FinishReason> AppendToken(SequenceId id, int32_t token);

  // Ends sequence `id` in any state and frees its blocks. For kEos, kStopToken, kStopString,
  // kLength and kContextLength its full computed blocks are first offered to the prefix cache;
  // kCancelled and kError drop them (their KV may be incomplete, e.g. an aborted KV transfer).
  // INVALID_ARGUMENT for kNone.
  absl::Status Finish(SequenceId id, FinishReason reason);

  // Finish(id, FinishReason::kCancelled).
  absl::Status Cancel(SequenceId id);

  // Makes `n` - 1 copies of kDecoding sequence `id` (n >= 1 samples in all, the parent being one)
  // and returns their ids. Each child has the parent's tokens, max_tokens and arrival priority,
  // ranks right after the parent in the running batch (preempted just before it, not as the
  // newest admission), and shares its KV blocks (copy on write); a child awaits a token when the
  // parent does. Children that find no running slot wait (kWaiting, without KV) and are
  // recomputed when admitted, most likely from the prefix cache. FAILED_PRECONDITION when `id`
  // is not kDecoding.
  absl::StatusOr<std::vector<SequenceId>> Fork(SequenceId id, int n);

  // NOT_FOUND for an unknown or finished id.
  absl::StatusOr<SequenceInfo> GetSequence(SequenceId id) const;

  // Every live sequence: running ones in rank order (the order of plans and preemption), then
  // waiting ones in queue order.
  std::vector<SequenceId> SequenceIds() const;
  bool HasUnfinishedSequences() const { return !sequences_.empty(); }

  SchedulerLoad Load() const;
  // Routing hashes of the prefix cache (PrefixCacheSummary.block_hashes); empty when disabled.
  std::vector<uint64_t> CachedBlockHashes(size_t max_hashes) const;

  const SchedulerConfig& config() const { return config_; }
  const KvBlockAllocator& allocator() const { return allocator_; }

 private:
  struct Sequence;
  // A ScheduledSequence under construction, with the copies its slots required.
  struct PlanEntry {
    SequenceId id;
    int32_t start;
    int32_t end;
    bool samples;
    std::vector<BlockCopy> copies;
  };
  // Mutable state of the Step() being planned.
  struct StepState {
    std::vector<PlanEntry> entries;
    std::vector<SequenceId> preempted;
    int budget = 0;
  };

  explicit Scheduler(const SchedulerConfig& config);

  Sequence* Find(SequenceId id) const;
  int BlocksFor(int64_t tokens) const;
  // Adds `num_tokens` KV slots to a running sequence, preempting the most recently admitted
  // running sequences until they fit. False when `seq` itself had to be preempted.
  bool ReserveSlots(Sequence& seq, int num_tokens, StepState& step, std::vector<BlockCopy>* copies);
  void Plan(Sequence& seq, int num_tokens, std::vector<BlockCopy> copies, StepState& step);
  void Preempt(Sequence& seq, StepState& step);
  // Admits the head of the waiting queue and plans its first chunk; false when it does not fit.
  // INTERNAL only on a broken invariant.
  absl::StatusOr<bool> AdmitHead(StepState& step);
  // Offers the sequence's full computed blocks that are not registered yet to the prefix cache.
  void RegisterComputedBlocks(Sequence& seq);
  void Forget(Sequence& seq);

  const SchedulerConfig config_;
  KvBlockAllocator allocator_;
  PrefixCache prefix_cache_;
  absl::flat_hash_map<SequenceId, std::unique_ptr<Sequence>> sequences_;
  std::vector<SequenceId> running_;  // rank: admission order, fork children after their parent
  std::set<std::pair<uint64_t, SequenceId>> waiting_;  // (arrival, id): queue order
  std::vector<SequenceId> last_plan_;                  // ids of the previous Step()'s plan
  SequenceId next_id_ = 1;
  uint64_t preemptions_ = 0;
};

}  // namespace r1serve::engine
