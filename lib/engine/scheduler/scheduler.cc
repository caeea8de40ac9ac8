#include "lib/engine/scheduler/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace r1serve::engine {

struct Scheduler::Sequence {
  Sequence(SequenceId id, uint64_t arrival, KvBlockAllocator* allocator)
      : id(id), arrival(arrival), table(allocator) {}

  const SequenceId id;
  const uint64_t arrival;  // queue priority: the id of the sequence that was added (forks share it)
  std::vector<int32_t> tokens;  // prompt, then generated
  int num_prompt_tokens = 0;
  std::optional<int> max_tokens;
  SequenceState state = SequenceState::kWaiting;
  int num_computed = 0;  // == table.num_tokens() while running, 0 otherwise
  bool awaiting_token = false;
  BlockTable table;
  // Prefix-cache registration progress: blocks [0, num_registered_blocks) are cached (by this
  // sequence or a twin) and `cursor` ends their chain; nullopt once the chain cannot continue.
  int num_registered_blocks = 0;
  std::optional<PrefixCache::Cursor> cursor = PrefixCache::Cursor{};
  int num_cached_prompt_tokens = -1;
  int num_preemptions = 0;

  int num_generated() const { return static_cast<int>(tokens.size()) - num_prompt_tokens; }
  int num_tokens() const { return static_cast<int>(tokens.size()); }
};

namespace {

absl::Status InvalidConfig(absl::string_view field, int value, absl::string_view rule) {
  return absl::InvalidArgumentError(
      absl::StrCat("scheduler config: ", field, " = ", value, " ", rule));
}

bool KeepsBlocksForCache(FinishReason reason) {
  return reason != FinishReason::kCancelled && reason != FinishReason::kError;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(const SchedulerConfig& config) {
  if (config.num_kv_blocks < 1)
    return InvalidConfig("num_kv_blocks", config.num_kv_blocks, "must be >= 1");
  if (config.block_size < 1) return InvalidConfig("block_size", config.block_size, "must be >= 1");
  if (config.max_num_seqs < 1)
    return InvalidConfig("max_num_seqs", config.max_num_seqs, "must be >= 1");
  if (config.max_num_batched_tokens < config.max_num_seqs) {
    return InvalidConfig("max_num_batched_tokens", config.max_num_batched_tokens,
                         absl::StrCat("must be >= max_num_seqs (", config.max_num_seqs,
                                      ") so that every running sequence decodes every step"));
  }
  if (config.max_model_len < 2) {
    return InvalidConfig("max_model_len", config.max_model_len, "must be >= 2");
  }
  if (config.watermark_blocks < 0 || config.watermark_blocks >= config.num_kv_blocks) {
    return InvalidConfig(
        "watermark_blocks", config.watermark_blocks,
        absl::StrCat("must be in [0, num_kv_blocks = ", config.num_kv_blocks, ")"));
  }
  return std::unique_ptr<Scheduler>(new Scheduler(config));
}

Scheduler::Scheduler(const SchedulerConfig& config)
    : config_(config),
      allocator_(config.num_kv_blocks, config.block_size),
      prefix_cache_(&allocator_) {}

Scheduler::~Scheduler() = default;

Scheduler::Sequence* Scheduler::Find(SequenceId id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? nullptr : it->second.get();
}

int Scheduler::BlocksFor(int64_t tokens) const {
  return static_cast<int>((tokens + config_.block_size - 1) / config_.block_size);
}

absl::StatusOr<SequenceId> Scheduler::AddSequence(std::vector<int32_t> prompt_tokens,
                                                  std::optional<int> max_tokens) {
  const int64_t prompt_len = static_cast<int64_t>(prompt_tokens.size());
  if (prompt_len == 0) return absl::InvalidArgumentError("the prompt has no tokens");
  if (prompt_len >= config_.max_model_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("the prompt has ", prompt_len, " tokens; the context window of ",
                     config_.max_model_len, " tokens leaves no room to generate"));
  }
  if (max_tokens.has_value() && *max_tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_tokens must be >= 1, got ", *max_tokens));
  }
  // The longest the sequence can get; the KV of its final token is never computed.
  const int64_t final_len = std::min<int64_t>(
      config_.max_model_len, prompt_len + max_tokens.value_or(config_.max_model_len));
  const int needed = BlocksFor(final_len - 1);
  if (needed > config_.num_kv_blocks - config_.watermark_blocks) {
    return absl::InvalidArgumentError(
        absl::StrCat("a sequence of up to ", final_len, " tokens needs ", needed,
                     " KV blocks, more than this cache can ever give one sequence (",
                     config_.num_kv_blocks - config_.watermark_blocks,
                     "); lower max_tokens or use a larger KV cache"));
  }
  const SequenceId id = next_id_++;
  auto seq = std::make_unique<Sequence>(id, id, &allocator_);
  seq->tokens = std::move(prompt_tokens);
  seq->num_prompt_tokens = static_cast<int>(prompt_len);
  seq->max_tokens = max_tokens;
  waiting_.emplace(seq->arrival, id);
  sequences_.emplace(id, std::move(seq));
  return id;
}

absl::StatusOr<StepPlan> Scheduler::Step() {
  for (SequenceId id : SequenceIds()) {
    if (Find(id)->awaiting_token) {
      return absl::FailedPreconditionError(
          absl::StrCat("sequence ", id,
                       " still awaits its sampled token: report AppendToken or Finish for "
                       "every sampling sequence of a plan before the next Step()"));
    }
  }
  // The previous plan's forward pass is done: its full blocks hold KV and may be shared.
  for (SequenceId id : last_plan_) {
    if (Sequence* seq = Find(id); seq != nullptr && seq->num_computed > 0) {
      RegisterComputedBlocks(*seq);
    }
  }
  last_plan_.clear();

  StepState step;
  step.budget = config_.max_num_batched_tokens;
  const std::vector<SequenceId> running = running_;  // preemption edits running_ as we go
  for (SequenceState phase : {SequenceState::kDecoding, SequenceState::kPrefilling}) {
    for (SequenceId id : running) {
      if (step.budget == 0) break;
      Sequence* seq = Find(id);
      if (seq == nullptr || seq->state != phase) continue;  // preempted meanwhile, or other phase
      const int num_tokens = std::min(seq->num_tokens() - seq->num_computed, step.budget);
      std::vector<BlockCopy> copies;
      if (ReserveSlots(*seq, num_tokens, step, &copies)) {
        Plan(*seq, num_tokens, std::move(copies), step);
      }
    }
  }
  if (step.preempted.empty()) {
    while (!waiting_.empty() && step.budget > 0 &&
           static_cast<int>(running_.size()) < config_.max_num_seqs) {
      absl::StatusOr<bool> admitted = AdmitHead(step);
      if (!admitted.ok()) return admitted.status();
      if (!*admitted) break;
    }
  }

  StepPlan plan;
  plan.preempted = std::move(step.preempted);
  for (PlanEntry& entry : step.entries) {
    const Sequence& seq = *Find(entry.id);
    if (seq.state == SequenceState::kPreempted) {
      return absl::InternalError(
          absl::StrCat("scheduler bug: sequence ", seq.id, " was preempted after being planned"));
    }
    ScheduledSequence& out = plan.sequences.emplace_back();
    out.id = entry.id;
    out.start = entry.start;
    out.end = entry.end;
    out.token_ids.assign(seq.tokens.begin() + entry.start, seq.tokens.begin() + entry.end);
    out.samples = entry.samples;
    out.block_table = seq.table.blocks();
    plan.block_copies.insert(plan.block_copies.end(), entry.copies.begin(), entry.copies.end());
    plan.num_batched_tokens += entry.end - entry.start;
    last_plan_.push_back(entry.id);
  }
  return plan;
}

bool Scheduler::ReserveSlots(Sequence& seq, int num_tokens, StepState& step,
                             std::vector<BlockCopy>* copies) {
  while (!seq.table.AppendTokens(num_tokens, copies).ok()) {
    // Out of blocks: the most recently admitted running sequence gives its blocks back. The loop
    // ends: each round removes one running sequence, and `seq` itself is one of them.
    Sequence& victim = *Find(running_.back());
    Preempt(victim, step);
    if (&victim == &seq) return false;
  }
  return true;
}

void Scheduler::Plan(Sequence& seq, int num_tokens, std::vector<BlockCopy> copies,
                     StepState& step) {
  PlanEntry entry{seq.id, seq.num_computed, seq.num_computed + num_tokens, false,
                  std::move(copies)};
  seq.num_computed += num_tokens;
  entry.samples = seq.num_computed == seq.num_tokens();
  if (entry.samples) {
    seq.awaiting_token = true;
    seq.state = SequenceState::kDecoding;
  }
  step.budget -= num_tokens;
  step.entries.push_back(std::move(entry));
}

void Scheduler::Preempt(Sequence& seq, StepState& step) {
  // `seq` has no entry in this step's plan yet: victims are the last-ranked running sequences,
  // and the sequences planned so far rank before the one reserving (decodes go in rank order;
  // a sequence ranked after a prefilling one is admitted only once that prompt is done, because
  // an unfinished chunk uses up the whole budget, and fork children rank with their parent).
  // Step() turns a violation into an INTERNAL error rather than plan a sequence without KV.
  seq.table.Release().IgnoreError();
  seq.num_computed = 0;
  seq.awaiting_token = false;
  seq.num_registered_blocks = 0;
  seq.cursor = PrefixCache::Cursor{};
  seq.state = SequenceState::kPreempted;
  ++seq.num_preemptions;
  ++preemptions_;
  running_.erase(std::find(running_.begin(), running_.end(), seq.id));
  waiting_.emplace(seq.arrival, seq.id);
  step.preempted.push_back(seq.id);
}

absl::StatusOr<bool> Scheduler::AdmitHead(StepState& step) {
  Sequence& seq = *Find(waiting_.begin()->second);
  const int num_tokens = seq.num_tokens();
  PrefixCache::Match match;
  if (config_.enable_prefix_caching) {
    // At least the last token is computed: its logits are what the step is for.
    match = prefix_cache_.Lookup(seq.tokens, (num_tokens - 1) / config_.block_size);
  }
  const int new_blocks = BlocksFor(num_tokens) - static_cast<int>(match.blocks.size());
  if (allocator_.num_available() - match.num_evictable - new_blocks < config_.watermark_blocks) {
    return false;
  }
  waiting_.erase(waiting_.begin());
  if (config_.enable_prefix_caching) {
    if (absl::Status s = prefix_cache_.Acquire(match, &seq.table); !s.ok()) {
      return absl::InternalError(absl::StrCat("prefix cache hit for sequence ", seq.id,
                                              " could not be taken: ", s.message()));
    }
  }
  const int hit_tokens = static_cast<int>(match.blocks.size()) * config_.block_size;
  seq.num_computed = hit_tokens;
  seq.num_registered_blocks = static_cast<int>(match.blocks.size());
  seq.cursor = match.end;
  if (seq.num_cached_prompt_tokens < 0) {
    seq.num_cached_prompt_tokens = std::min(hit_tokens, seq.num_prompt_tokens);
  }
  seq.state = SequenceState::kPrefilling;
  running_.push_back(seq.id);
  const int chunk = std::min(num_tokens - hit_tokens, step.budget);
  std::vector<BlockCopy> copies;
  if (absl::Status s = seq.table.AppendTokens(chunk, &copies); !s.ok()) {
    return absl::InternalError(
        absl::StrCat("admitted sequence ", seq.id, " could not take its blocks: ", s.message()));
  }
  Plan(seq, chunk, std::move(copies), step);
  return true;
}

void Scheduler::RegisterComputedBlocks(Sequence& seq) {
  if (!config_.enable_prefix_caching) return;
  const int full_blocks = seq.num_computed / config_.block_size;
  while (seq.cursor.has_value() && seq.num_registered_blocks < full_blocks) {
    const int i = seq.num_registered_blocks;
    seq.cursor = prefix_cache_.Insert(
        *seq.cursor,
        absl::MakeConstSpan(seq.tokens).subspan(i * config_.block_size, config_.block_size),
        seq.table.blocks()[i]);
    ++seq.num_registered_blocks;
  }
}

absl::StatusOr<FinishReason> Scheduler::AppendToken(SequenceId id, int32_t token) {
  Sequence* seq = Find(id);
  if (seq == nullptr) return absl::NotFoundError(absl::StrCat("no sequence ", id));
  if (!seq->awaiting_token) {
    return absl::FailedPreconditionError(
        absl::StrCat("sequence ", id, " was not planned to sample a token"));
  }
  seq->tokens.push_back(token);
  seq->awaiting_token = false;
  FinishReason reason = FinishReason::kNone;
  if (seq->max_tokens.has_value() && seq->num_generated() >= *seq->max_tokens) {
    reason = FinishReason::kLength;
  } else if (seq->num_tokens() >= config_.max_model_len) {
    reason = FinishReason::kContextLength;
  }
  if (reason != FinishReason::kNone) {
    if (absl::Status s = Finish(id, reason); !s.ok()) return s;
  }
  return reason;
}

absl::Status Scheduler::Finish(SequenceId id, FinishReason reason) {
  if (reason == FinishReason::kNone) {
    return absl::InvalidArgumentError("Finish needs a finish reason other than kNone");
  }
  Sequence* seq = Find(id);
  if (seq == nullptr) return absl::NotFoundError(absl::StrCat("no sequence ", id));
  if (seq->num_computed > 0 && KeepsBlocksForCache(reason)) RegisterComputedBlocks(*seq);
  Forget(*seq);
  return absl::OkStatus();
}

absl::Status Scheduler::Cancel(SequenceId id) { return Finish(id, FinishReason::kCancelled); }

void Scheduler::Forget(Sequence& seq) {
  seq.table.Release().IgnoreError();
  if (auto it = std::find(running_.begin(), running_.end(), seq.id); it != running_.end()) {
    running_.erase(it);
  } else {
    waiting_.erase({seq.arrival, seq.id});
  }
  sequences_.erase(seq.id);
}

absl::StatusOr<std::vector<SequenceId>> Scheduler::Fork(SequenceId id, int n) {
  if (n < 1) return absl::InvalidArgumentError(absl::StrCat("cannot fork into ", n, " samples"));
  Sequence* parent = Find(id);
  if (parent == nullptr) return absl::NotFoundError(absl::StrCat("no sequence ", id));
  if (parent->state != SequenceState::kDecoding) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sequence ", id, " can only be forked once its prompt is computed (it is not decoding)"));
  }
  std::vector<SequenceId> children;
  // Children rank with their parent (right after it), not as new admissions: they are the same
  // request, and it keeps every sequence ranked after a prefilling one unplanned while that one
  // reserves its chunk (see Preempt).
  auto insert_at = std::find(running_.begin(), running_.end(), id) + 1;
  for (int i = 1; i < n; ++i) {
    const SequenceId child_id = next_id_++;
    auto child = std::make_unique<Sequence>(child_id, parent->arrival, &allocator_);
    child->tokens = parent->tokens;
    child->num_prompt_tokens = parent->num_prompt_tokens;
    child->max_tokens = parent->max_tokens;
    child->awaiting_token = parent->awaiting_token;
    child->num_cached_prompt_tokens = parent->num_cached_prompt_tokens;
    if (static_cast<int>(running_.size()) < config_.max_num_seqs) {
      absl::StatusOr<BlockTable> table = parent->table.Fork();
      if (!table.ok()) return table.status();
      child->table = *std::move(table);
      child->num_computed = parent->num_computed;
      child->num_registered_blocks = parent->num_registered_blocks;
      child->cursor = parent->cursor;
      child->state = SequenceState::kDecoding;
      insert_at = running_.insert(insert_at, child_id) + 1;
    } else {
      waiting_.emplace(child->arrival, child_id);
    }
    sequences_.emplace(child_id, std::move(child));
    children.push_back(child_id);
  }
  return children;
}

absl::StatusOr<SequenceInfo> Scheduler::GetSequence(SequenceId id) const {
  const Sequence* seq = Find(id);
  if (seq == nullptr) return absl::NotFoundError(absl::StrCat("no sequence ", id));
  SequenceInfo info;
  info.state = seq->state;
  info.num_prompt_tokens = seq->num_prompt_tokens;
  info.num_generated_tokens = seq->num_generated();
  info.num_tokens = seq->num_tokens();
  info.num_computed_tokens = seq->num_computed;
  info.num_cached_prompt_tokens = seq->num_cached_prompt_tokens;
  info.num_preemptions = seq->num_preemptions;
  info.awaiting_token = seq->awaiting_token;
  info.block_table = seq->table.blocks();
  return info;
}

std::vector<SequenceId> Scheduler::SequenceIds() const {
  std::vector<SequenceId> ids = running_;
  for (const auto& [arrival, id] : waiting_) ids.push_back(id);
  return ids;
}

SchedulerLoad Scheduler::Load() const {
  SchedulerLoad load;
  load.running_sequences = static_cast<int>(running_.size());
  load.max_running_sequences = config_.max_num_seqs;
  for (SequenceId id : running_) load.running_tokens += Find(id)->num_tokens();
  for (const auto& [arrival, id] : waiting_) {
    const Sequence& seq = *Find(id);
    if (seq.state == SequenceState::kPreempted) {
      ++load.preempted_sequences;
    } else {
      ++load.waiting_sequences;
    }
    load.queued_prompt_tokens += seq.num_tokens();
  }
  load.preemptions = preemptions_;
  load.prefix_caching_enabled = config_.enable_prefix_caching;
  load.kv = allocator_.stats();
  load.prefix_cache = prefix_cache_.stats();
  return load;
}

std::vector<uint64_t> Scheduler::CachedBlockHashes(size_t max_hashes) const {
  if (!config_.enable_prefix_caching) return {};
  return prefix_cache_.BlockHashes(max_hashes);
}

}  // namespace r1serve::engine
