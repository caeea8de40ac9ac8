#include "lib/engine/scheduler/scheduler.h"

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/engine/kv/block_hash.h"

namespace r1serve::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr int32_t kEos = 2;

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

std::vector<int32_t> Tokens(int n, int32_t first) {
  std::vector<int32_t> v;
  for (int i = 0; i < n; ++i) v.push_back(first + i);
  return v;
}

SchedulerConfig SmallConfig() {
  SchedulerConfig config;
  config.num_kv_blocks = 64;
  config.block_size = 4;
  config.max_num_batched_tokens = 64;
  config.max_num_seqs = 8;
  config.max_model_len = 128;
  return config;
}

std::unique_ptr<Scheduler> MakeScheduler(const SchedulerConfig& config) {
  absl::StatusOr<std::unique_ptr<Scheduler>> scheduler = Scheduler::Create(config);
  EXPECT_TRUE(scheduler.ok()) << scheduler.status();
  return scheduler.ok() ? *std::move(scheduler) : nullptr;
}

// Plays the engine around a Scheduler: checks every plan against its own mirror of each
// sequence, runs a fake forward pass over a fake KV store, samples deterministic tokens and
// reports them back.
//
// The fake KV of position p is a hash of tokens [0, p] (what real KV depends on). Before an entry
// "computes" [start, end) the engine checks that positions [0, start) of its block table hold
// exactly the KV of its own prefix: any error in prefix-cache reuse, copy on write, preemption or
// block tables shows up as wrong context. Written blocks must be held by the writer alone.
// A token is a hash of the sequence's prefix and its salt, so outputs do not depend on
// scheduling: any two schedules of the same workload must produce the same tokens.
class FakeEngine {
 public:
  struct Mirror {
    std::vector<int32_t> tokens;
    std::vector<uint64_t> prefix_kv;  // [tokens.size()]: the KV of position p
    uint64_t salt = 0;
    int next_start = -1;  // expected start of its next entry; -1 right after (re)admission
    int fork_on_sample = 0;

    void Push(int32_t token) {
      tokens.push_back(token);
      prefix_kv.push_back(Mix(prefix_kv.empty() ? 0 : prefix_kv.back(), token));
    }
  };

  explicit FakeEngine(Scheduler* scheduler)
      : scheduler_(scheduler),
        kv_(scheduler->config().num_kv_blocks,
            std::vector<uint64_t>(scheduler->config().block_size, 0)) {}

  SequenceId Add(std::vector<int32_t> prompt, std::optional<int> max_tokens) {
    absl::StatusOr<SequenceId> id = scheduler_->AddSequence(prompt, max_tokens);
    EXPECT_TRUE(id.ok()) << id.status();
    Mirror& m = mirrors_[*id];
    for (int32_t t : prompt) m.Push(t);
    m.salt = *id;
    return *id;
  }

  // The next time `id` samples, Fork(id, n) is called first.
  void ForkOnSample(SequenceId id, int n) { mirrors_[id].fork_on_sample = n; }
  void set_emit_eos(bool emit_eos) { emit_eos_ = emit_eos; }
  void set_auto_report(bool auto_report) { auto_report_ = auto_report; }

  // One step: plan, check, copy, check context, write KV, sample and report. ADD_FAILUREs on any
  // broken rule.
  StepPlan RunStep() {
    absl::StatusOr<StepPlan> plan_or = scheduler_->Step();
    EXPECT_TRUE(plan_or.ok()) << plan_or.status();
    if (!plan_or.ok()) return {};
    StepPlan plan = *std::move(plan_or);
    CheckPlan(plan);
    Forward(plan);
    if (auto_report_) Report(plan);
    ++steps_;
    return plan;
  }

  // Steps until every sequence finished; false if that takes more than `max_steps`.
  bool RunUntilIdle(int max_steps) {
    for (int i = 0; i < max_steps && scheduler_->HasUnfinishedSequences(); ++i) {
      RunStep();
      if (::testing::Test::HasFatalFailure()) return false;
    }
    return !scheduler_->HasUnfinishedSequences();
  }

  void Report(const StepPlan& plan) {
    for (const ScheduledSequence& s : plan.sequences) {
      if (!s.samples || !mirrors_.count(s.id)) continue;
      Mirror& m = mirrors_[s.id];
      if (m.fork_on_sample > 0) {
        const int n = m.fork_on_sample;
        m.fork_on_sample = 0;
        absl::StatusOr<std::vector<SequenceId>> children = scheduler_->Fork(s.id, n);
        EXPECT_TRUE(children.ok()) << children.status();
        for (SequenceId child : children.value_or(std::vector<SequenceId>{})) {
          Mirror& c = mirrors_[child];
          c = mirrors_[s.id];
          c.salt = child;
          absl::StatusOr<SequenceInfo> info = scheduler_->GetSequence(child);
          ASSERT_TRUE(info.ok());
          // A child that got a running slot continues where the parent is; one that waits is
          // recomputed.
          c.next_start = info->state == SequenceState::kDecoding ? s.end : -1;
          Sample(child);
        }
      }
      Sample(s.id);
    }
  }

  void Cancel(SequenceId id) {
    EXPECT_TRUE(scheduler_->Cancel(id).ok());
    mirrors_.erase(id);
  }

  const std::map<SequenceId, std::vector<int32_t>>& finished() const { return finished_; }
  const std::map<SequenceId, FinishReason>& reasons() const { return reasons_; }
  bool live(SequenceId id) const { return mirrors_.count(id) > 0; }
  std::vector<SequenceId> live_ids() const {
    std::vector<SequenceId> ids;
    for (const auto& [id, m] : mirrors_) ids.push_back(id);
    return ids;
  }
  int steps() const { return steps_; }
  int64_t copies() const { return copies_; }
  int64_t preemptions() const { return preemptions_; }

 private:
  int32_t NextToken(const Mirror& m) const {
    const uint64_t h = Mix(m.prefix_kv.back(), m.salt);
    if (emit_eos_ && h % 23 == 0) return kEos;
    return static_cast<int32_t>(3 + h % 5000);
  }

  void Sample(SequenceId id) {
    Mirror& m = mirrors_[id];
    const int32_t token = NextToken(m);
    m.Push(token);
    absl::StatusOr<FinishReason> reason = scheduler_->AppendToken(id, token);
    ASSERT_TRUE(reason.ok()) << reason.status();
    FinishReason why = *reason;
    if (why == FinishReason::kNone && token == kEos) {
      ASSERT_TRUE(scheduler_->Finish(id, FinishReason::kEos).ok());
      why = FinishReason::kEos;
    }
    if (why != FinishReason::kNone) {
      finished_[id] = m.tokens;
      reasons_[id] = why;
      mirrors_.erase(id);
    }
  }

  void CheckPlan(const StepPlan& plan) {
    const SchedulerConfig& config = scheduler_->config();
    const int bs = config.block_size;
    EXPECT_LE(plan.num_batched_tokens, config.max_num_batched_tokens);
    EXPECT_LE(static_cast<int>(plan.sequences.size()), config.max_num_seqs);
    int total = 0;
    std::set<SequenceId> ids;
    for (SequenceId id : plan.preempted) {
      ++preemptions_;
      if (mirrors_.count(id)) mirrors_[id].next_start = -1;
      absl::StatusOr<SequenceInfo> info = scheduler_->GetSequence(id);
      ASSERT_TRUE(info.ok());
      EXPECT_EQ(info->state, SequenceState::kPreempted);
      EXPECT_THAT(info->block_table, IsEmpty());
    }
    for (const ScheduledSequence& s : plan.sequences) {
      SCOPED_TRACE(absl::StrCat("sequence ", s.id, " [", s.start, ", ", s.end, ")"));
      EXPECT_TRUE(ids.insert(s.id).second) << "planned twice";
      ASSERT_TRUE(mirrors_.count(s.id)) << "planned after it ended";
      const Mirror& m = mirrors_[s.id];
      const int n = static_cast<int>(m.tokens.size());
      ASSERT_GE(s.start, 0);
      ASSERT_LT(s.start, s.end);
      ASSERT_LE(s.end, n);
      if (m.next_start >= 0) {
        EXPECT_EQ(s.start, m.next_start);
      } else {
        EXPECT_EQ(s.start % bs, 0) << "a (re)admitted sequence starts after whole cached blocks";
      }
      EXPECT_EQ(s.token_ids,
                std::vector<int32_t>(m.tokens.begin() + s.start, m.tokens.begin() + s.end));
      EXPECT_EQ(s.samples, s.end == n);
      EXPECT_EQ(static_cast<int>(s.block_table.size()), (s.end + bs - 1) / bs);
      absl::StatusOr<SequenceInfo> info = scheduler_->GetSequence(s.id);
      ASSERT_TRUE(info.ok());
      EXPECT_EQ(info->block_table, s.block_table);
      EXPECT_EQ(info->num_computed_tokens, s.end);
      EXPECT_NE(info->state, SequenceState::kPreempted);
      EXPECT_NE(info->state, SequenceState::kWaiting);
      EXPECT_EQ(info->awaiting_token, s.samples);
      total += s.num_tokens();
    }
    EXPECT_EQ(total, plan.num_batched_tokens);
    CheckReferenceCounts();
  }

  void Forward(const StepPlan& plan) {
    const int bs = scheduler_->config().block_size;
    const KvBlockAllocator& allocator = scheduler_->allocator();
    for (const BlockCopy& c : plan.block_copies) {
      EXPECT_EQ(allocator.ref_count(c.dst), 1) << "copy into a shared block " << c.dst;
      kv_[c.dst] = kv_[c.src];
      ++copies_;
    }
    std::set<KvBlockId> written;
    for (const ScheduledSequence& s : plan.sequences) {
      const Mirror& m = mirrors_[s.id];
      for (int p = 0; p < s.start; ++p) {
        ASSERT_EQ(kv_[s.block_table[p / bs]][p % bs], m.prefix_kv[p])
            << "sequence " << s.id << " would attend to wrong KV at position " << p;
      }
      for (int b = s.start / bs; b <= (s.end - 1) / bs; ++b) {
        const KvBlockId block = s.block_table[b];
        EXPECT_EQ(allocator.ref_count(block), 1)
            << "sequence " << s.id << " writes into shared block " << block;
        EXPECT_TRUE(written.insert(block).second) << "two sequences write block " << block;
      }
      for (int p = s.start; p < s.end; ++p) kv_[s.block_table[p / bs]][p % bs] = m.prefix_kv[p];
    }
    for (const ScheduledSequence& s : plan.sequences) mirrors_[s.id].next_start = s.end;
  }

  // Each block's ref count equals the number of live block tables that list it.
  void CheckReferenceCounts() {
    const KvBlockAllocator& allocator = scheduler_->allocator();
    std::vector<int> holders(allocator.num_blocks(), 0);
    for (SequenceId id : scheduler_->SequenceIds()) {
      absl::StatusOr<SequenceInfo> info = scheduler_->GetSequence(id);
      ASSERT_TRUE(info.ok());
      for (KvBlockId b : info->block_table) ++holders[b];
      const int bs = scheduler_->config().block_size;
      EXPECT_EQ(static_cast<int>(info->block_table.size()),
                (info->num_computed_tokens + bs - 1) / bs);
    }
    for (KvBlockId b = 0; b < allocator.num_blocks(); ++b) {
      ASSERT_EQ(allocator.ref_count(b), holders[b]) << "block " << b;
    }
    const absl::Status consistent = allocator.CheckConsistency();
    ASSERT_TRUE(consistent.ok()) << consistent;
  }

  Scheduler* scheduler_;
  std::vector<std::vector<uint64_t>> kv_;  // [num_blocks, block_size]
  std::map<SequenceId, Mirror> mirrors_;
  std::map<SequenceId, std::vector<int32_t>> finished_;
  std::map<SequenceId, FinishReason> reasons_;
  bool emit_eos_ = false;
  bool auto_report_ = true;
  int steps_ = 0;
  int64_t copies_ = 0;
  int64_t preemptions_ = 0;
};

struct Span {
  SequenceId id;
  int start;
  int end;
  bool samples;
  friend bool operator==(const Span&, const Span&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Span& s) {
    return os << "{" << s.id << " [" << s.start << "," << s.end << ")" << (s.samples ? " S" : "")
              << "}";
  }
};

std::vector<Span> Spans(const StepPlan& plan) {
  std::vector<Span> spans;
  for (const ScheduledSequence& s : plan.sequences)
    spans.push_back({s.id, s.start, s.end, s.samples});
  return spans;
}

// ---------------------------------------------------------------------------------------------
// Configuration and input validation.

TEST(SchedulerConfigTest, RejectsUnusableConfigs) {
  const auto code = [](auto mutate) {
    SchedulerConfig config = SmallConfig();
    mutate(config);
    return Scheduler::Create(config).status().code();
  };
  EXPECT_EQ(code([](SchedulerConfig&) {}), absl::StatusCode::kOk);
  EXPECT_EQ(code([](SchedulerConfig& c) { c.num_kv_blocks = 0; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](SchedulerConfig& c) { c.block_size = 0; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](SchedulerConfig& c) { c.max_num_seqs = 0; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](SchedulerConfig& c) { c.max_num_batched_tokens = 7; }),
            absl::StatusCode::kInvalidArgument);  // < max_num_seqs
  EXPECT_EQ(code([](SchedulerConfig& c) { c.max_model_len = 1; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](SchedulerConfig& c) { c.watermark_blocks = -1; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](SchedulerConfig& c) { c.watermark_blocks = 64; }),
            absl::StatusCode::kInvalidArgument);
}

TEST(SchedulerTest, AddSequenceRejectsWhatCanNeverRun) {
  SchedulerConfig config = SmallConfig();
  config.num_kv_blocks = 8;  // 32 token slots
  config.watermark_blocks = 1;
  config.max_model_len = 40;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  EXPECT_EQ(scheduler->AddSequence({}, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler->AddSequence(Tokens(40, 5), 4).status().code(),
            absl::StatusCode::kInvalidArgument);  // fills the context window
  EXPECT_EQ(scheduler->AddSequence(Tokens(4, 5), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  // 28 prompt + 1 generated: 28 KV slots = 7 blocks, the most one sequence can get.
  EXPECT_TRUE(scheduler->AddSequence(Tokens(28, 5), 1).ok());
  EXPECT_EQ(scheduler->AddSequence(Tokens(28, 5), 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler->AddSequence(Tokens(20, 5), std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);  // until the context window: 39 slots
  EXPECT_THAT(scheduler->SequenceIds(), SizeIs(1));
}

TEST(SchedulerTest, IdsIncreaseFromOne) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  EXPECT_EQ(*scheduler->AddSequence(Tokens(3, 5), 4), 1u);
  EXPECT_EQ(*scheduler->AddSequence(Tokens(3, 5), 4), 2u);
  EXPECT_THAT(scheduler->SequenceIds(), ElementsAre(1u, 2u));
}

TEST(SchedulerTest, EmptySchedulerPlansNothing) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  absl::StatusOr<StepPlan> plan = scheduler->Step();
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->empty());
  EXPECT_FALSE(scheduler->HasUnfinishedSequences());
}

// ---------------------------------------------------------------------------------------------
// One sequence's life.

TEST(SchedulerTest, PrefillThenDecodeUntilMaxTokens) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  FakeEngine engine(scheduler.get());
  const SequenceId id = engine.Add(Tokens(6, 100), 3);
  EXPECT_EQ(scheduler->GetSequence(id)->state, SequenceState::kWaiting);

  StepPlan plan = engine.RunStep();
  EXPECT_THAT(Spans(plan), ElementsAre(Span{id, 0, 6, true}));
  EXPECT_THAT(plan.sequences[0].block_table, ElementsAre(0, 1));
  EXPECT_THAT(plan.block_copies, IsEmpty());
  SequenceInfo info = *scheduler->GetSequence(id);
  EXPECT_EQ(info.state, SequenceState::kDecoding);
  EXPECT_EQ(info.num_generated_tokens, 1);
  EXPECT_EQ(info.num_cached_prompt_tokens, 0);

  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{id, 6, 7, true}));
  plan = engine.RunStep();
  EXPECT_THAT(Spans(plan), ElementsAre(Span{id, 7, 8, true}));
  EXPECT_THAT(plan.sequences[0].block_table, ElementsAre(0, 1));
  EXPECT_EQ(engine.reasons().at(id), FinishReason::kLength);
  EXPECT_THAT(engine.finished().at(id), SizeIs(9));
  EXPECT_EQ(scheduler->GetSequence(id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(scheduler->HasUnfinishedSequences());
  EXPECT_EQ(scheduler->allocator().num_used(), 0);
  EXPECT_EQ(scheduler->allocator().num_available(), 64);
}

TEST(SchedulerTest, ChunkedPrefillUnderTheTokenBudget) {
  SchedulerConfig config = SmallConfig();
  config.max_num_batched_tokens = 8;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId id = engine.Add(Tokens(20, 100), 2);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{id, 0, 8, false}));
  SequenceInfo info = *scheduler->GetSequence(id);
  EXPECT_EQ(info.state, SequenceState::kPrefilling);
  EXPECT_EQ(info.num_computed_tokens, 8);  // progress: 8 of 20
  EXPECT_FALSE(info.awaiting_token);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{id, 8, 16, false}));
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{id, 16, 20, true}));
  EXPECT_EQ(scheduler->GetSequence(id)->state, SequenceState::kDecoding);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{id, 20, 21, true}));
  EXPECT_FALSE(scheduler->HasUnfinishedSequences());
}

TEST(SchedulerTest, DecodesGoFirstThenPrefillChunksFillTheBudget) {
  SchedulerConfig config = SmallConfig();
  config.max_num_batched_tokens = 8;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId a = engine.Add(Tokens(4, 100), 10);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{a, 0, 4, true}));
  const SequenceId b = engine.Add(Tokens(12, 200), 10);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{a, 4, 5, true}, Span{b, 0, 7, false}));
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{a, 5, 6, true}, Span{b, 7, 12, true}));
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{a, 6, 7, true}, Span{b, 12, 13, true}));
}

TEST(SchedulerTest, PrefillsShareTheBudgetInArrivalOrder) {
  SchedulerConfig config = SmallConfig();
  config.max_num_batched_tokens = 8;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId a = engine.Add(Tokens(5, 100), 10);
  const SequenceId b = engine.Add(Tokens(5, 200), 10);
  const SequenceId c = engine.Add(Tokens(5, 300), 10);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{a, 0, 5, true}, Span{b, 0, 3, false}));
  EXPECT_EQ(scheduler->GetSequence(c)->state, SequenceState::kWaiting);
  EXPECT_THAT(Spans(engine.RunStep()),
              ElementsAre(Span{a, 5, 6, true}, Span{b, 3, 5, true}, Span{c, 0, 5, true}));
  EXPECT_THAT(Spans(engine.RunStep()),
              ElementsAre(Span{a, 6, 7, true}, Span{b, 5, 6, true}, Span{c, 5, 6, true}));
}

TEST(SchedulerTest, MaxNumSeqsBoundsTheRunningBatch) {
  SchedulerConfig config = SmallConfig();
  config.max_num_seqs = 2;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId a = engine.Add(Tokens(3, 100), 1);
  const SequenceId b = engine.Add(Tokens(3, 200), 3);
  const SequenceId c = engine.Add(Tokens(3, 300), 3);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{a, 0, 3, true}, Span{b, 0, 3, true}));
  SchedulerLoad load = scheduler->Load();
  EXPECT_EQ(load.running_sequences, 1);  // a finished at its first token
  EXPECT_EQ(load.waiting_sequences, 1);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{b, 3, 4, true}, Span{c, 0, 3, true}));
}

// ---------------------------------------------------------------------------------------------
// Admission by free blocks.

TEST(SchedulerTest, AdmissionWaitsUntilTheBlocksFitWithTheWatermark) {
  for (int watermark : {0, 1}) {
    SCOPED_TRACE(absl::StrCat("watermark ", watermark));
    SchedulerConfig config = SmallConfig();
    config.num_kv_blocks = 6;
    config.watermark_blocks = watermark;
    std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
    FakeEngine engine(scheduler.get());
    const SequenceId a = engine.Add(Tokens(12, 100), 1);  // 3 blocks
    const SequenceId b = engine.Add(Tokens(12, 200), 1);  // 3 more: leaves 0
    StepPlan plan = engine.RunStep();
    if (watermark == 0) {
      EXPECT_THAT(Spans(plan), ElementsAre(Span{a, 0, 12, true}, Span{b, 0, 12, true}));
    } else {
      EXPECT_THAT(Spans(plan), ElementsAre(Span{a, 0, 12, true}));
      EXPECT_EQ(scheduler->Load().waiting_sequences, 1);
      // a finished (max_tokens 1) and gave its blocks back: now b fits.
      EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{b, 0, 12, true}));
    }
    EXPECT_FALSE(scheduler->HasUnfinishedSequences());
  }
}

TEST(SchedulerTest, AdmissionIsFirstComeFirstServed) {
  SchedulerConfig config = SmallConfig();
  config.num_kv_blocks = 6;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId a = engine.Add(Tokens(16, 100), 2);  // 4 blocks
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{a, 0, 16, true}));
  const SequenceId big = engine.Add(Tokens(12, 200), 1);   // 3 blocks: does not fit next to a
  const SequenceId small = engine.Add(Tokens(4, 300), 1);  // 1 block: would fit, but queues
  StepPlan plan = engine.RunStep();
  EXPECT_THAT(Spans(plan), ElementsAre(Span{a, 16, 17, true}));
  EXPECT_EQ(scheduler->GetSequence(small)->state, SequenceState::kWaiting);
  EXPECT_THAT(Spans(engine.RunStep()),
              ElementsAre(Span{big, 0, 12, true}, Span{small, 0, 4, true}));
}

// ---------------------------------------------------------------------------------------------
// Preemption by recompute.

TEST(SchedulerTest, PreemptsTheMostRecentlyAdmittedWhenDecodeRunsOutOfBlocks) {
  SchedulerConfig config = SmallConfig();
  config.num_kv_blocks = 5;
  config.enable_prefix_caching = false;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId a = engine.Add(Tokens(4, 100), 12);  // up to 15 KV slots: 4 blocks
  const SequenceId b = engine.Add(Tokens(4, 200), 12);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{a, 0, 4, true}, Span{b, 0, 4, true}));
  // Steps 2-5 decode positions 4..7 (block 2 of each: 4 blocks used, 1 free).
  for (int i = 0; i < 4; ++i) engine.RunStep();
  // Position 8 needs a third block for each: a takes the last one, b is preempted.
  StepPlan plan = engine.RunStep();
  EXPECT_THAT(Spans(plan), ElementsAre(Span{a, 8, 9, true}));
  EXPECT_THAT(plan.preempted, ElementsAre(b));
  SequenceInfo info = *scheduler->GetSequence(b);
  EXPECT_EQ(info.state, SequenceState::kPreempted);
  EXPECT_EQ(info.num_tokens, 9);  // 4 prompt + 5 generated, all to recompute
  EXPECT_EQ(info.num_computed_tokens, 0);
  EXPECT_EQ(info.num_preemptions, 1);
  SchedulerLoad load = scheduler->Load();
  EXPECT_EQ(load.preempted_sequences, 1);
  EXPECT_EQ(load.preemptions, 1u);
  EXPECT_EQ(load.queued_prompt_tokens, 9);
  // a runs on alone; b is re-admitted when a finishes, recomputing all 9 tokens in one chunk
  // and sampling its next token at position 9, exactly where it stopped.
  std::optional<StepPlan> readmission;
  for (int i = 0; i < 20 && !readmission.has_value(); ++i) {
    StepPlan p = engine.RunStep();
    for (const ScheduledSequence& s : p.sequences) {
      if (s.id == b) readmission = p;
    }
  }
  ASSERT_TRUE(readmission.has_value());
  EXPECT_THAT(Spans(*readmission), ElementsAre(Span{b, 0, 9, true}));
  EXPECT_FALSE(engine.live(a));
  ASSERT_TRUE(engine.RunUntilIdle(50));
  EXPECT_THAT(engine.finished().at(b), SizeIs(4 + 12));
}

TEST(SchedulerTest, ReadmissionReusesItsOwnCachedBlocks) {
  SchedulerConfig config = SmallConfig();
  config.num_kv_blocks = 5;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId a = engine.Add(Tokens(4, 100), 12);
  const SequenceId b = engine.Add(Tokens(4, 200), 12);
  std::optional<StepPlan> preempting;
  for (int i = 0; i < 10 && !preempting.has_value(); ++i) {
    StepPlan p = engine.RunStep();
    if (!p.preempted.empty()) preempting = p;
  }
  ASSERT_TRUE(preempting.has_value());
  EXPECT_THAT(preempting->preempted, ElementsAre(b));
  // b's two full blocks (positions 0-7) were committed to the prefix cache before it was
  // preempted, and released deepest first. a's growth to its fourth block evicts b's second
  // block; b comes back with its first block from the cache and recomputes positions 4-8.
  std::optional<ScheduledSequence> readmitted;
  for (int i = 0; i < 30 && !readmitted.has_value(); ++i) {
    for (const ScheduledSequence& s : engine.RunStep().sequences) {
      if (s.id == b) readmitted = s;
    }
  }
  ASSERT_TRUE(readmitted.has_value());
  EXPECT_EQ(readmitted->start, 4);
  EXPECT_EQ(readmitted->end, 9);
  EXPECT_TRUE(readmitted->samples);
  EXPECT_EQ(scheduler->GetSequence(b)->num_cached_prompt_tokens, 0);  // first admission's
  ASSERT_TRUE(engine.RunUntilIdle(50));
  EXPECT_THAT(engine.finished().at(a), SizeIs(16));
  EXPECT_THAT(engine.finished().at(b), SizeIs(16));
}

// The same workload on a roomy cache and on a cramped one: preemption and recompute must not
// change a single token.
TEST(SchedulerTest, PreemptionDoesNotChangeTheGeneratedTokens) {
  const auto run = [](int num_blocks, bool prefix_caching, int64_t* preemptions) {
    SchedulerConfig config = SmallConfig();
    config.num_kv_blocks = num_blocks;
    config.max_num_batched_tokens = 16;
    config.enable_prefix_caching = prefix_caching;
    std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
    FakeEngine engine(scheduler.get());
    for (int i = 0; i < 6; ++i) engine.Add(Tokens(5 + 3 * i, 100 * i), 20 + i);
    EXPECT_TRUE(engine.RunUntilIdle(1000));
    *preemptions = engine.preemptions();
    EXPECT_EQ(scheduler->allocator().num_used(), 0);
    return engine.finished();
  };
  int64_t roomy_preemptions = 0;
  int64_t cramped_preemptions = 0;
  int64_t cramped_uncached_preemptions = 0;
  const auto roomy = run(64, true, &roomy_preemptions);
  const auto cramped = run(12, true, &cramped_preemptions);
  const auto cramped_uncached = run(12, false, &cramped_uncached_preemptions);
  EXPECT_EQ(roomy_preemptions, 0);
  EXPECT_GT(cramped_preemptions, 0);
  EXPECT_GT(cramped_uncached_preemptions, 0);
  EXPECT_EQ(cramped, roomy);
  EXPECT_EQ(cramped_uncached, roomy);
  EXPECT_THAT(roomy, SizeIs(6));
}

// ---------------------------------------------------------------------------------------------
// Cancellation.

TEST(SchedulerTest, CancelInEveryStateFreesEveryBlock) {
  SchedulerConfig config = SmallConfig();
  config.num_kv_blocks = 10;
  config.max_num_batched_tokens = 16;
  config.enable_prefix_caching = false;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId decoding = engine.Add(Tokens(8, 100), 20);
  const SequenceId prefilling = engine.Add(Tokens(30, 200), 5);
  engine.RunStep();  // decoding: [0, 8); prefilling: [0, 8) of 30
  const SequenceId waiting = engine.Add(Tokens(4, 300), 5);
  engine.RunStep();
  EXPECT_EQ(scheduler->GetSequence(decoding)->state, SequenceState::kDecoding);
  EXPECT_EQ(scheduler->GetSequence(prefilling)->state, SequenceState::kPrefilling);
  EXPECT_EQ(scheduler->GetSequence(waiting)->state, SequenceState::kWaiting);
  EXPECT_GT(scheduler->allocator().num_used(), 0);
  engine.Cancel(prefilling);
  engine.Cancel(waiting);
  engine.Cancel(decoding);
  EXPECT_FALSE(scheduler->HasUnfinishedSequences());
  EXPECT_EQ(scheduler->allocator().num_free(), 10);
  EXPECT_TRUE(scheduler->Step()->empty());
  EXPECT_EQ(scheduler->Cancel(decoding).code(), absl::StatusCode::kNotFound);
}

TEST(SchedulerTest, CancelWhileAwaitingATokenOrPreempted) {
  SchedulerConfig config = SmallConfig();
  config.num_kv_blocks = 5;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId a = engine.Add(Tokens(4, 100), 12);
  const SequenceId b = engine.Add(Tokens(4, 200), 12);
  SequenceId preempted = 0;
  while (preempted == 0) {
    StepPlan p = engine.RunStep();
    if (!p.preempted.empty()) preempted = p.preempted[0];
  }
  EXPECT_EQ(preempted, b);
  engine.Cancel(b);
  engine.set_auto_report(false);
  StepPlan plan = engine.RunStep();
  ASSERT_THAT(Spans(plan), SizeIs(1));
  EXPECT_TRUE(scheduler->GetSequence(a)->awaiting_token);
  engine.Cancel(a);  // instead of reporting the token
  EXPECT_EQ(scheduler->allocator().num_used(), 0);
  EXPECT_EQ(scheduler->allocator().num_available(), 5);
  EXPECT_TRUE(scheduler->Step().ok());
}

// ---------------------------------------------------------------------------------------------
// Prefix cache.

TEST(SchedulerTest, PrefixHitAcrossRunningSequences) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  FakeEngine engine(scheduler.get());
  std::vector<int32_t> shared = Tokens(8, 100);
  std::vector<int32_t> prompt_a = shared;
  prompt_a.push_back(1);
  prompt_a.push_back(1);
  std::vector<int32_t> prompt_b = shared;
  prompt_b.push_back(9);
  const SequenceId a = engine.Add(prompt_a, 10);
  StepPlan first = engine.RunStep();
  const SequenceId b = engine.Add(prompt_b, 10);
  StepPlan second = engine.RunStep();  // commits a's blocks, then admits b
  EXPECT_THAT(Spans(second), ElementsAre(Span{a, 10, 11, true}, Span{b, 8, 9, true}));
  const std::vector<KvBlockId>& table_a = first.sequences[0].block_table;
  const std::vector<KvBlockId>& table_b = second.sequences[1].block_table;
  EXPECT_EQ(table_b[0], table_a[0]);
  EXPECT_EQ(table_b[1], table_a[1]);
  EXPECT_NE(table_b[2], table_a[2]);
  EXPECT_EQ(scheduler->allocator().ref_count(table_a[0]), 2);
  EXPECT_EQ(scheduler->GetSequence(b)->num_cached_prompt_tokens, 8);
  EXPECT_EQ(scheduler->GetSequence(a)->num_cached_prompt_tokens, 0);
  const SchedulerLoad load = scheduler->Load();
  EXPECT_EQ(load.prefix_cache.queries, 2u);
  EXPECT_EQ(load.prefix_cache.query_tokens, 19u);
  EXPECT_EQ(load.prefix_cache.hit_tokens, 8u);
}

TEST(SchedulerTest, PrefixHitAfterTheFirstSequenceFinished) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  FakeEngine engine(scheduler.get());
  const std::vector<int32_t> prompt = Tokens(13, 100);
  const SequenceId a = engine.Add(prompt, 4);
  ASSERT_TRUE(engine.RunUntilIdle(10));
  EXPECT_EQ(scheduler->allocator().num_used(), 0);
  EXPECT_GE(scheduler->allocator().num_evictable(), 3);
  const SequenceId b = engine.Add(prompt, 4);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{b, 12, 13, true}));
  EXPECT_EQ(scheduler->GetSequence(b)->num_cached_prompt_tokens, 12);
  EXPECT_EQ(scheduler->Load().prefix_cache.hit_tokens, 12u);
  ASSERT_TRUE(engine.RunUntilIdle(10));
  EXPECT_THAT(engine.finished().at(a), SizeIs(17));
  EXPECT_THAT(engine.finished().at(b), SizeIs(17));
}

TEST(SchedulerTest, AFullyCachedPromptStillComputesItsLastToken) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  FakeEngine engine(scheduler.get());
  const std::vector<int32_t> prompt = Tokens(8, 100);
  engine.Add(prompt, 1);
  ASSERT_TRUE(engine.RunUntilIdle(5));
  const SequenceId b = engine.Add(prompt, 1);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{b, 4, 8, true}));
}

TEST(SchedulerTest, FinishedBlocksAreCachedButCancelledOnesAreNot) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  FakeEngine engine(scheduler.get());
  engine.set_auto_report(false);
  const std::vector<int32_t> prompt = Tokens(9, 100);
  const SequenceId a = engine.Add(prompt, 10);
  engine.RunStep();
  ASSERT_TRUE(scheduler->Finish(a, FinishReason::kEos).ok());
  EXPECT_THAT(scheduler->CachedBlockHashes(10),
              UnorderedElementsAre(BlockHashChain(prompt, 4)[0], BlockHashChain(prompt, 4)[1]));
  const std::vector<int32_t> other = Tokens(9, 500);
  const SequenceId b = engine.Add(other, 10);
  engine.RunStep();
  ASSERT_TRUE(scheduler->Cancel(b).ok());
  EXPECT_EQ(scheduler->Load().prefix_cache.cached_blocks, 2);
  const SequenceId c = engine.Add(other, 10);
  engine.RunStep();
  ASSERT_TRUE(scheduler->Finish(c, FinishReason::kError).ok());
  EXPECT_EQ(scheduler->Load().prefix_cache.cached_blocks, 2);
}

TEST(SchedulerTest, CachedBlockHashesAreTheRoutingChain) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  FakeEngine engine(scheduler.get());
  const std::vector<int32_t> prompt = Tokens(12, 7);
  engine.Add(prompt, 1);
  ASSERT_TRUE(engine.RunUntilIdle(5));
  const std::vector<uint64_t> chain = BlockHashChain(prompt, 4);
  // Released deepest first, so the first block is the most recently used.
  EXPECT_THAT(scheduler->CachedBlockHashes(10), ElementsAre(chain[0], chain[1], chain[2]));
  EXPECT_THAT(scheduler->CachedBlockHashes(1), ElementsAre(chain[0]));
}

TEST(SchedulerTest, PrefixCachingCanBeTurnedOff) {
  SchedulerConfig config = SmallConfig();
  config.enable_prefix_caching = false;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const std::vector<int32_t> prompt = Tokens(12, 7);
  engine.Add(prompt, 1);
  ASSERT_TRUE(engine.RunUntilIdle(5));
  const SequenceId b = engine.Add(prompt, 1);
  EXPECT_THAT(Spans(engine.RunStep()), ElementsAre(Span{b, 0, 12, true}));
  EXPECT_THAT(scheduler->CachedBlockHashes(10), IsEmpty());
  EXPECT_EQ(scheduler->allocator().num_free(), 64);
  EXPECT_FALSE(scheduler->Load().prefix_caching_enabled);
  EXPECT_EQ(scheduler->Load().prefix_cache.queries, 0u);
}

// ---------------------------------------------------------------------------------------------
// Fork (n samples of one prompt).

TEST(SchedulerTest, ForkSharesThePromptBlocksAndCopiesTheLastOnWrite) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  FakeEngine engine(scheduler.get());
  const SequenceId parent = engine.Add(Tokens(6, 100), 4);  // blocks: 1 full, 1 partial
  engine.ForkOnSample(parent, 3);
  StepPlan prefill = engine.RunStep();
  const std::vector<KvBlockId> prompt_blocks = prefill.sequences[0].block_table;
  ASSERT_THAT(prompt_blocks, SizeIs(2));
  const std::vector<SequenceId> ids = scheduler->SequenceIds();
  ASSERT_THAT(ids, SizeIs(3));
  const SequenceId c1 = ids[1];
  const SequenceId c2 = ids[2];
  for (SequenceId id : ids) {
    SequenceInfo info = *scheduler->GetSequence(id);
    EXPECT_EQ(info.state, SequenceState::kDecoding);
    EXPECT_EQ(info.block_table, prompt_blocks);
    EXPECT_EQ(info.num_generated_tokens, 1);
  }
  EXPECT_EQ(scheduler->allocator().ref_count(prompt_blocks[0]), 3);
  EXPECT_EQ(scheduler->allocator().ref_count(prompt_blocks[1]), 3);
  EXPECT_EQ(scheduler->allocator().num_used(), 2);

  StepPlan decode = engine.RunStep();
  EXPECT_THAT(Spans(decode),
              ElementsAre(Span{parent, 6, 7, true}, Span{c1, 6, 7, true}, Span{c2, 6, 7, true}));
  // The first two writers copy the shared partial block; the last one writes in place.
  ASSERT_THAT(decode.block_copies, SizeIs(2));
  EXPECT_EQ(decode.block_copies[0].src, prompt_blocks[1]);
  EXPECT_EQ(decode.block_copies[1].src, prompt_blocks[1]);
  EXPECT_EQ(decode.sequences[0].block_table[1], decode.block_copies[0].dst);
  EXPECT_EQ(decode.sequences[1].block_table[1], decode.block_copies[1].dst);
  EXPECT_EQ(decode.sequences[2].block_table[1], prompt_blocks[1]);
  for (const ScheduledSequence& s : decode.sequences) EXPECT_EQ(s.block_table[0], prompt_blocks[0]);
  EXPECT_EQ(scheduler->allocator().ref_count(prompt_blocks[0]), 3);
  ASSERT_TRUE(engine.RunUntilIdle(10));
  EXPECT_THAT(engine.finished(), SizeIs(3));
  EXPECT_EQ(scheduler->allocator().num_used(), 0);
}

TEST(SchedulerTest, ForkChildrenWithoutARunningSlotWaitAndAreRecomputed) {
  SchedulerConfig config = SmallConfig();
  config.max_num_seqs = 2;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId parent = engine.Add(Tokens(9, 100), 3);
  engine.ForkOnSample(parent, 3);
  engine.set_auto_report(false);
  StepPlan prefill = engine.RunStep();
  absl::StatusOr<std::vector<SequenceId>> children = scheduler->Fork(parent, 3);
  ASSERT_TRUE(children.ok());
  ASSERT_THAT(*children, SizeIs(2));
  SequenceInfo running_child = *scheduler->GetSequence((*children)[0]);
  SequenceInfo waiting_child = *scheduler->GetSequence((*children)[1]);
  EXPECT_EQ(running_child.state, SequenceState::kDecoding);
  EXPECT_EQ(waiting_child.state, SequenceState::kWaiting);
  EXPECT_THAT(waiting_child.block_table, IsEmpty());
  EXPECT_TRUE(waiting_child.awaiting_token);
  EXPECT_EQ(waiting_child.num_cached_prompt_tokens, 0);
  EXPECT_EQ(scheduler->Load().waiting_sequences, 1);
  for (SequenceId id : {parent, (*children)[0], (*children)[1]}) {
    ASSERT_TRUE(scheduler->AppendToken(id, 7).ok());
  }
  absl::StatusOr<StepPlan> next = scheduler->Step();
  ASSERT_TRUE(next.ok());
  EXPECT_THAT(Spans(*next),
              ElementsAre(Span{parent, 9, 10, true}, Span{(*children)[0], 9, 10, true}));
}

TEST(SchedulerTest, ForkedSamplesThatWaitProduceTheSameTokensAsRunningOnes) {
  const auto run = [](int max_num_seqs) {
    SchedulerConfig config = SmallConfig();
    config.max_num_seqs = max_num_seqs;
    std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
    FakeEngine engine(scheduler.get());
    const SequenceId parent = engine.Add(Tokens(9, 100), 6);
    engine.ForkOnSample(parent, 4);
    EXPECT_TRUE(engine.RunUntilIdle(100));
    EXPECT_EQ(scheduler->allocator().num_used(), 0);
    return engine.finished();
  };
  const auto wide = run(8);
  const auto narrow = run(2);
  EXPECT_THAT(wide, SizeIs(4));
  EXPECT_EQ(wide, narrow);
}

TEST(SchedulerTest, ForkChildrenRankRightAfterTheirParent) {
  SchedulerConfig config = SmallConfig();
  config.max_num_batched_tokens = 8;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  const SequenceId parent = engine.Add(Tokens(4, 100), 8);
  const SequenceId later = engine.Add(Tokens(20, 200), 8);
  engine.ForkOnSample(parent, 2);
  EXPECT_THAT(Spans(engine.RunStep()),
              ElementsAre(Span{parent, 0, 4, true}, Span{later, 0, 4, false}));
  const std::vector<SequenceId> ids = scheduler->SequenceIds();
  ASSERT_THAT(ids, SizeIs(3));
  EXPECT_EQ(ids[0], parent);
  EXPECT_EQ(ids[2], later);  // the child ranks before the later request, which is preempted first
  EXPECT_EQ(scheduler->GetSequence(ids[1])->state, SequenceState::kDecoding);
}

TEST(SchedulerTest, ForkNeedsADecodingSequence) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  const SequenceId id = *scheduler->AddSequence(Tokens(4, 1), 4);
  EXPECT_EQ(scheduler->Fork(id, 2).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(scheduler->Fork(id + 1, 2).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(scheduler->Fork(id, 0).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(scheduler->Step().ok());
  ASSERT_TRUE(scheduler->AppendToken(id, 5).ok());
  absl::StatusOr<std::vector<SequenceId>> none = scheduler->Fork(id, 1);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// The engine contract and finishing.

TEST(SchedulerTest, EverySampledTokenMustBeReportedBeforeTheNextStep) {
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(SmallConfig());
  const SequenceId id = *scheduler->AddSequence(Tokens(4, 1), 4);
  EXPECT_EQ(scheduler->AppendToken(id, 5).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(scheduler->Step().ok());
  EXPECT_EQ(scheduler->Step().status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(scheduler->AppendToken(id, 5).ok());
  EXPECT_EQ(scheduler->AppendToken(id, 5).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(scheduler->AppendToken(id + 1, 5).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(scheduler->Finish(id, FinishReason::kNone).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(scheduler->Step().ok());
}

TEST(SchedulerTest, FinishesAtMaxTokensOrTheContextWindow) {
  SchedulerConfig config = SmallConfig();
  config.max_model_len = 8;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  const SequenceId limited = *scheduler->AddSequence(Tokens(3, 1), 2);
  const SequenceId open = *scheduler->AddSequence(Tokens(6, 1), std::nullopt);
  ASSERT_TRUE(scheduler->Step().ok());
  EXPECT_EQ(*scheduler->AppendToken(limited, 5), FinishReason::kNone);
  EXPECT_EQ(*scheduler->AppendToken(open, 5), FinishReason::kNone);
  ASSERT_TRUE(scheduler->Step().ok());
  EXPECT_EQ(*scheduler->AppendToken(limited, 5), FinishReason::kLength);
  EXPECT_EQ(*scheduler->AppendToken(open, 5), FinishReason::kContextLength);
  EXPECT_FALSE(scheduler->HasUnfinishedSequences());
  EXPECT_EQ(scheduler->allocator().num_used(), 0);
}

TEST(SchedulerTest, LoadReportsTheQueueTheBatchAndTheCache) {
  SchedulerConfig config = SmallConfig();
  config.max_num_seqs = 2;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  engine.Add(Tokens(5, 100), 10);
  engine.Add(Tokens(6, 200), 10);
  engine.Add(Tokens(7, 300), 10);
  SchedulerLoad load = scheduler->Load();
  EXPECT_EQ(load.running_sequences, 0);
  EXPECT_EQ(load.waiting_sequences, 3);
  EXPECT_EQ(load.queued_prompt_tokens, 18);
  EXPECT_EQ(load.max_running_sequences, 2);
  engine.RunStep();
  load = scheduler->Load();
  EXPECT_EQ(load.running_sequences, 2);
  EXPECT_EQ(load.waiting_sequences, 1);
  EXPECT_EQ(load.preempted_sequences, 0);
  EXPECT_EQ(load.queued_prompt_tokens, 7);
  EXPECT_EQ(load.running_tokens, 6 + 7);  // each sampled one token
  EXPECT_EQ(load.kv.total_blocks, 64);
  EXPECT_EQ(load.kv.used_blocks, 4);
  EXPECT_EQ(load.kv.available_blocks(), 60);
  EXPECT_TRUE(load.prefix_caching_enabled);
}

// ---------------------------------------------------------------------------------------------
// Randomized stress: thousands of random operations with a fixed seed. FakeEngine checks every
// plan (positions, token ids, exclusive writes, context KV) and that every block's ref count
// equals the number of tables listing it; at the end every block must be back.

struct StressCase {
  std::string name;
  SchedulerConfig config;
};

void PrintTo(const StressCase& c, std::ostream* os) { *os << c.name; }

class SchedulerStressTest : public ::testing::TestWithParam<StressCase> {};

TEST_P(SchedulerStressTest, RandomWorkloadKeepsEveryInvariant) {
  const SchedulerConfig& config = GetParam().config;
  std::unique_ptr<Scheduler> scheduler = MakeScheduler(config);
  FakeEngine engine(scheduler.get());
  engine.set_emit_eos(true);
  std::mt19937 rng(1234567);
  // Prompts draw from a few shared prefixes so that the prefix cache is hit.
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 4; ++i) prefixes.push_back(Tokens(4 + 5 * i, 1000 * (i + 1)));
  int added = 0;
  int cancelled = 0;
  for (int step = 0; step < 3000; ++step) {
    const int arrivals = static_cast<int>(rng() % 3 == 0) + static_cast<int>(rng() % 7 == 0);
    for (int i = 0; i < arrivals; ++i) {
      std::vector<int32_t> prompt = prefixes[rng() % prefixes.size()];
      const int tail = static_cast<int>(rng() % 9);
      for (int t = 0; t < tail; ++t) prompt.push_back(static_cast<int32_t>(3 + rng() % 50));
      const int max_tokens = 1 + static_cast<int>(rng() % 24);
      const SequenceId id = engine.Add(prompt, max_tokens);
      ++added;
      if (rng() % 5 == 0) engine.ForkOnSample(id, 2 + static_cast<int>(rng() % 3));
    }
    if (rng() % 9 == 0) {
      const std::vector<SequenceId> live = engine.live_ids();
      if (!live.empty()) {
        engine.Cancel(live[rng() % live.size()]);
        ++cancelled;
      }
    }
    engine.RunStep();
    if (HasFatalFailure()) return;
  }
  ASSERT_TRUE(engine.RunUntilIdle(5000));
  EXPECT_EQ(scheduler->allocator().num_used(), 0);
  EXPECT_EQ(scheduler->allocator().num_available(), config.num_kv_blocks);
  EXPECT_TRUE(scheduler->allocator().CheckConsistency().ok());
  const SchedulerLoad load = scheduler->Load();
  EXPECT_EQ(load.running_sequences + load.waiting_sequences + load.preempted_sequences, 0);
  // The workload exercised what it is meant to.
  EXPECT_GT(added, 500);
  EXPECT_GT(cancelled, 100);
  EXPECT_GT(engine.finished().size(), 500u);
  EXPECT_GT(engine.preemptions(), 0);
  if (config.block_size > 1) {
    EXPECT_GT(engine.copies(), 0);  // one-token blocks are never partial: nothing to copy
  }
  if (config.enable_prefix_caching) {
    EXPECT_GT(load.prefix_cache.hit_tokens, 0u);
    EXPECT_GT(load.kv.evictions, 0u);
  }
}

SchedulerConfig StressConfig(int num_blocks, int block_size, int budget, int max_seqs,
                             int watermark, bool prefix_caching) {
  SchedulerConfig config;
  config.num_kv_blocks = num_blocks;
  config.block_size = block_size;
  config.max_num_batched_tokens = budget;
  config.max_num_seqs = max_seqs;
  config.max_model_len = 64;
  config.watermark_blocks = watermark;
  config.enable_prefix_caching = prefix_caching;
  return config;
}

INSTANTIATE_TEST_SUITE_P(
    Configs, SchedulerStressTest,
    ::testing::Values(StressCase{"Cramped", StressConfig(16, 4, 16, 6, 1, true)},
                      StressCase{"NoPrefixCache", StressConfig(16, 4, 16, 6, 0, false)},
                      StressCase{"TokenBlocks", StressConfig(60, 1, 12, 4, 2, true)},
                      StressCase{"BigBlocks", StressConfig(24, 8, 32, 12, 2, true)}),
    [](const ::testing::TestParamInfo<StressCase>& info) { return info.param.name; });

// Two schedulers fed the same calls produce the same plans: no clock, no hash-order dependence.
TEST(SchedulerTest, PlansAreDeterministic) {
  const auto run = [] {
    std::unique_ptr<Scheduler> scheduler = MakeScheduler(StressConfig(16, 4, 16, 6, 1, true));
    FakeEngine engine(scheduler.get());
    engine.set_emit_eos(true);
    std::mt19937 rng(99);
    std::vector<std::string> trace;
    for (int step = 0; step < 400; ++step) {
      if (rng() % 3 == 0) {
        const SequenceId id = engine.Add(Tokens(3 + rng() % 20, 7), 1 + rng() % 16);
        if (rng() % 4 == 0) engine.ForkOnSample(id, 3);
      }
      const StepPlan plan = engine.RunStep();
      std::string line;
      for (const ScheduledSequence& s : plan.sequences) {
        absl::StrAppend(&line, s.id, ":", s.start, "-", s.end, "/");
        for (KvBlockId b : s.block_table) absl::StrAppend(&line, b, ",");
        absl::StrAppend(&line, " ");
      }
      for (const BlockCopy& c : plan.block_copies) absl::StrAppend(&line, c.src, ">", c.dst, " ");
      for (SequenceId id : plan.preempted) absl::StrAppend(&line, "p", id, " ");
      trace.push_back(line);
    }
    return trace;
  };
  EXPECT_EQ(run(), run());
}

}  // namespace
}  // namespace r1serve::engine
