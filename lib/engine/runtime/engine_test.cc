// Engine on tiny random-weight models: continuous batching gives each request what it gets
// alone, forks share one prefill, cancellation and preemption leave nothing behind, the
// prefill -> decode KV handoff continues exactly, invalid requests get clear errors, and the
// EngineLoop delivers every request's events to its sink from its own thread.
#include "lib/engine/runtime/engine.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/engine/runtime/engine_loop.h"
#include "lib/engine/runtime/runtime_test_util.h"

namespace r1serve::engine {
namespace {

using ::testing::HasSubstr;
using testing_util::Greedy;
using testing_util::MakeEngine;
using testing_util::Prompt;
using testing_util::RunGreedy;
using testing_util::RunOne;
using testing_util::RunToEnd;
using testing_util::SmallEngineOptions;
using testing_util::TestDir;
using testing_util::TinyConfig;
using testing_util::TokensBySample;
using testing_util::WriteAndLoad;

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::shared_ptr<const Model>> model =
        WriteAndLoad(TinyConfig(Architecture::kQwen2), DType::kF16, TestDir("engine") + "/m.gguf");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new std::shared_ptr<const Model>(*model);
  }
  static void TearDownTestSuite() { delete model_; }

  std::unique_ptr<Engine> NewEngine(const EngineOptions& options = SmallEngineOptions()) {
    absl::StatusOr<std::unique_ptr<Engine>> engine = MakeEngine(*model_, options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? *std::move(engine) : nullptr;
  }

  static std::shared_ptr<const Model>* model_;
};

std::shared_ptr<const Model>* EngineTest::model_ = nullptr;

TEST_F(EngineTest, GreedyIsDeterministicAndEndsAtMaxTokens) {
  std::unique_ptr<Engine> engine = NewEngine();
  const std::vector<int32_t> first = RunGreedy(*engine, Prompt(10, 1), 12);
  EXPECT_EQ(first.size(), 12u);
  EXPECT_EQ(RunGreedy(*engine, Prompt(10, 1), 12), first);
  EXPECT_FALSE(engine->HasWork());
}

// Requests of different lengths, prefilled in chunks and decoded together, each get the tokens
// they get alone.
TEST_F(EngineTest, ContinuousBatchingMatchesRunningAlone) {
  std::vector<std::vector<int32_t>> alone;
  for (int i = 0; i < 5; ++i) {
    std::unique_ptr<Engine> engine = NewEngine();
    alone.push_back(RunGreedy(*engine, Prompt(5 + 9 * i, i), 20));
  }
  std::unique_ptr<Engine> engine = NewEngine();  // budget 64 tokens: prompts get chunked
  std::vector<RequestId> ids;
  std::vector<TokenEvent> events;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(*engine->AddRequest(Prompt(5 + 9 * i, i), Greedy(20)));
    // Arrivals while others decode.
    absl::StatusOr<std::vector<TokenEvent>> step = engine->Step();
    ASSERT_TRUE(step.ok()) << step.status();
    for (TokenEvent& e : *step) events.push_back(std::move(e));
  }
  for (TokenEvent& e : RunToEnd(*engine)) events.push_back(std::move(e));
  auto tokens = TokensBySample(events);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(tokens[std::pair(ids[i], 0)], alone[i]) << i;
  }
}

// n > 1: one prefill, then every sample draws its first token from the same distribution.
TEST_F(EngineTest, ForkedSamplesShareTheFirstDistribution) {
  SamplingParams one = Greedy(6);
  one.logprobs = 5;
  std::unique_ptr<Engine> engine = NewEngine();
  ASSERT_TRUE(engine->AddRequest(Prompt(11, 4), one).ok());
  const std::vector<TokenEvent> single = RunToEnd(*engine);
  ASSERT_FALSE(single.empty());

  SamplingParams four = one;
  four.n = 4;
  four.temperature = 1.0f;
  four.seed = 42;
  const uint64_t computed_before = engine->Load().computed_tokens;
  ASSERT_TRUE(engine->AddRequest(Prompt(11, 4), four).ok());
  const std::vector<TokenEvent> events = RunToEnd(*engine);
  std::map<int, const TokenEvent*> first;
  int done = 0;
  for (const TokenEvent& e : events) {
    if (!first.contains(e.sample_index)) first[e.sample_index] = &e;
    done += e.request_done;
  }
  EXPECT_EQ(done, 1);
  ASSERT_EQ(first.size(), 4u);
  for (const auto& [index, e] : first) {
    ASSERT_EQ(e->top_logprobs.size(), single[0].top_logprobs.size());
    for (size_t k = 0; k < e->top_logprobs.size(); ++k) {
      EXPECT_EQ(e->top_logprobs[k].token_id, single[0].top_logprobs[k].token_id);
      EXPECT_FLOAT_EQ(e->top_logprobs[k].logprob, single[0].top_logprobs[k].logprob);
    }
  }
  // The prompt was computed once (prefix cache or not): 11 prompt rows, then 4 samples x 5
  // decode rows; a second prefill per sample would add 3 x 11.
  EXPECT_LE(engine->Load().computed_tokens - computed_before, 11u + 4 * 5);
  // Samples differ (different generators) yet each is reproducible from the seed.
  std::unique_ptr<Engine> again = NewEngine();
  ASSERT_TRUE(again->AddRequest(Prompt(11, 4), four).ok());
  auto a = TokensBySample(events), b = TokensBySample(RunToEnd(*again));
  std::vector<std::vector<int32_t>> samples_a, samples_b;
  for (auto& [key, t] : a) samples_a.push_back(t);
  for (auto& [key, t] : b) samples_b.push_back(t);
  EXPECT_EQ(samples_a, samples_b);
}

TEST_F(EngineTest, CancelFreesEveryBlock) {
  std::unique_ptr<Engine> engine = NewEngine();
  SamplingParams params = Greedy(50);
  params.n = 3;
  const RequestId forked = *engine->AddRequest(Prompt(30, 1), params);
  const RequestId waiting = *engine->AddRequest(Prompt(60, 2), Greedy(50));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(engine->Step().ok());
  EXPECT_GT(engine->Load().scheduler.kv.used_blocks, 0);
  ASSERT_TRUE(engine->Cancel(forked).ok());
  ASSERT_TRUE(engine->Cancel(waiting).ok());
  EXPECT_EQ(engine->Cancel(waiting).code(), absl::StatusCode::kNotFound);
  const std::vector<TokenEvent> events = RunToEnd(*engine);
  int cancelled = 0, done = 0;
  for (const TokenEvent& e : events) {
    cancelled += e.finish == FinishReason::kCancelled;
    done += e.request_done;
    EXPECT_EQ(e.token_id, -1);
  }
  EXPECT_EQ(cancelled, 4);  // 3 samples + 1
  EXPECT_EQ(done, 2);
  const EngineLoad load = engine->Load();
  EXPECT_EQ(load.scheduler.kv.used_blocks, 0);
  EXPECT_EQ(load.scheduler.kv.available_blocks(), load.scheduler.kv.total_blocks);
  EXPECT_EQ(load.num_requests, 0);
  EXPECT_FALSE(engine->HasWork());
}

// A cache too small for every sequence at once: sequences are preempted and recomputed, and
// each still produces exactly the tokens it produces alone.
TEST_F(EngineTest, PreemptionUnderATinyCacheKeepsGreedyOutput) {
  std::vector<std::vector<int32_t>> alone;
  for (int i = 0; i < 4; ++i) {
    std::unique_ptr<Engine> engine = NewEngine();
    alone.push_back(RunGreedy(*engine, Prompt(10 + i, 10 + i), 24));
  }
  // 24 blocks of 4 tokens: each sequence needs up to 9, all four together 36.
  EngineOptions tiny = SmallEngineOptions(/*num_kv_blocks=*/24, /*block_size=*/4);
  std::unique_ptr<Engine> engine = NewEngine(tiny);
  std::vector<RequestId> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(*engine->AddRequest(Prompt(10 + i, 10 + i), Greedy(24)));
  auto tokens = TokensBySample(RunToEnd(*engine));
  EXPECT_GT(engine->Load().scheduler.preemptions, 0u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(tokens[std::pair(ids[i], 0)], alone[i]) << i;
  }
  EXPECT_EQ(engine->Load().scheduler.kv.used_blocks, 0);
}

// Prefill on one engine (export_kv), decode on another (ImportRequest): the same tokens as one
// engine doing both, greedy and seeded sampling alike, n = 1 and n = 3.
TEST_F(EngineTest, ExportedKvContinuesIdenticallyInAnotherEngine) {
  for (uint32_t n : {1u, 3u}) {
    SamplingParams params = Greedy(16);
    params.n = n;
    params.temperature = n == 1 ? 0.0f : 0.8f;
    params.seed = 7;
    params.logprobs = 2;
    const std::vector<int32_t> prompt = Prompt(27, 9);

    std::unique_ptr<Engine> both = NewEngine();
    ASSERT_TRUE(both->AddRequest(prompt, params).ok());
    auto expected = TokensBySample(RunToEnd(*both));

    std::unique_ptr<Engine> prefill = NewEngine();
    ASSERT_TRUE(prefill->AddRequest(prompt, params, {.export_kv = true}).ok());
    std::shared_ptr<const KvSnapshot> kv;
    int done = 0;
    for (const TokenEvent& e : RunToEnd(*prefill)) {
      if (e.request_done) {
        ++done;
        kv = e.kv;
      }
    }
    ASSERT_EQ(done, 1);
    ASSERT_NE(kv, nullptr);
    EXPECT_EQ(kv->num_tokens(), 27);
    EXPECT_EQ(kv->first_tokens.size(), n);
    EXPECT_EQ(prefill->Load().scheduler.kv.used_blocks, 0);

    // A decode engine with another block size cannot take it.
    EngineOptions other = SmallEngineOptions(256, 8);
    std::unique_ptr<Engine> mismatched = NewEngine(other);
    absl::StatusOr<RequestId> refused = mismatched->ImportRequest(params, *kv);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(refused.status().message(), HasSubstr("block_size 8 vs 4"));

    std::unique_ptr<Engine> decode = NewEngine();
    const uint64_t computed_before = decode->Load().computed_tokens;
    absl::StatusOr<RequestId> id = decode->ImportRequest(params, *kv);
    ASSERT_TRUE(id.ok()) << id.status();
    auto imported = TokensBySample(RunToEnd(*decode));
    // Nothing of the prompt was computed again: only decode rows.
    EXPECT_LE(decode->Load().computed_tokens - computed_before, n * 15);
    ASSERT_EQ(imported.size(), expected.size());
    auto e = expected.begin();
    for (auto i = imported.begin(); i != imported.end(); ++i, ++e) {
      EXPECT_EQ(i->second, e->second) << "n=" << n << " sample " << i->first.second;
    }
  }
}

// A streaming export (RequestOptions::kv_sink) sends every (layer, block) once, while the
// chunked prompt computes, and the bytes are the snapshot's; again on a prefix-cache hit; and
// in pieces of at most kv_sink_max_blocks blocks when that is set.
TEST_F(EngineTest, StreamedKvEqualsTheSnapshot) {
  const std::vector<int32_t> prompt = Prompt(150, 3);  // chunks of 64, 64, 22; blocks of 4
  std::unique_ptr<Engine> reference = NewEngine();
  ASSERT_TRUE(reference->AddRequest(prompt, Greedy(1), {.export_kv = true}).ok());
  std::shared_ptr<const KvSnapshot> snapshot;
  for (const TokenEvent& e : RunToEnd(*reference)) {
    if (e.request_done) snapshot = e.kv;
  }
  ASSERT_NE(snapshot, nullptr);
  const KvHeader& h = snapshot->header;
  const int num_blocks = snapshot->num_blocks();
  const size_t block_bytes = static_cast<size_t>(h.block_bytes);
  const size_t row = block_bytes / static_cast<size_t>(h.num_kv_heads * h.block_size);
  const int used_in_last = 150 - (num_blocks - 1) * h.block_size;

  for (int max_blocks : {0, 3}) {
    SCOPED_TRACE(testing::Message() << "kv_sink_max_blocks " << max_blocks);
    std::unique_ptr<Engine> engine = NewEngine();
    for (int round = 0; round < 2; ++round) {  // the second finds the prompt in the prefix cache
      std::vector<std::vector<int>> seen(static_cast<size_t>(h.num_layers),
                                         std::vector<int>(static_cast<size_t>(num_blocks), 0));
      int step = 0;
      std::set<int> steps_with_kv;
      int last_layer = -1;
      RequestOptions options{.export_kv = true};
      options.kv_sink_max_blocks = max_blocks;
      options.kv_sink = [&](KvLayerBlocks b) {
        if (max_blocks > 0) {
          EXPECT_LE(b.num_blocks, max_blocks);
        }
        if (steps_with_kv.insert(step).second) last_layer = -1;
        EXPECT_GE(b.layer, last_layer) << "layers in order within a step";
        last_layer = b.layer;
        ASSERT_EQ(b.k.size(), static_cast<size_t>(b.num_blocks) * block_bytes);
        ASSERT_EQ(b.v.size(), b.k.size());
        const std::string& layer = snapshot->layers[static_cast<size_t>(b.layer)];
        for (int i = 0; i < b.num_blocks; ++i) {
          const int block = b.first_block + i;
          ++seen[static_cast<size_t>(b.layer)][static_cast<size_t>(block)];
          const int used = block == num_blocks - 1 ? used_in_last : h.block_size;
          for (int head = 0; head < h.num_kv_heads; ++head) {
            const size_t in_block = static_cast<size_t>(head * h.block_size) * row;
            const size_t len = static_cast<size_t>(used) * row;
            EXPECT_EQ(b.k.substr(i * block_bytes + in_block, len),
                      layer.substr(block * block_bytes + in_block, len));
            EXPECT_EQ(b.v.substr(i * block_bytes + in_block, len),
                      layer.substr((num_blocks + block) * block_bytes + in_block, len));
          }
        }
      };
      ASSERT_TRUE(engine->AddRequest(prompt, Greedy(1), options).ok());
      std::shared_ptr<const KvSnapshot> last;
      while (engine->HasWork()) {
        absl::StatusOr<std::vector<TokenEvent>> events = engine->Step();
        ASSERT_TRUE(events.ok()) << events.status();
        for (const TokenEvent& e : *events) {
          if (e.request_done) last = e.kv;
        }
        ++step;
      }
      for (const auto& layer : seen) {
        for (int count : layer) ASSERT_EQ(count, 1) << "round " << round;
      }
      if (round == 0) {
        EXPECT_GE(steps_with_kv.size(), 3u) << "sent while the chunks computed";
      }
      ASSERT_NE(last, nullptr);
      EXPECT_TRUE(last->layers.empty());
      ASSERT_EQ(last->first_tokens.size(), 1u);
      EXPECT_EQ(last->first_tokens[0].token_id, snapshot->first_tokens[0].token_id);
    }
    EXPECT_GT(engine->Load().scheduler.prefix_cache.hit_tokens, 0u);
  }
  EXPECT_EQ(
      reference->AddRequest(prompt, Greedy(1), {.kv_sink = [](KvLayerBlocks) {}}).status().code(),
      absl::StatusCode::kInvalidArgument);
}

// ExportKv of a live, decoding sample: another engine continues from its KV.
TEST_F(EngineTest, ExportKvOfALiveSampleContinuesElsewhere) {
  const std::vector<int32_t> prompt = Prompt(19, 2);
  std::unique_ptr<Engine> reference = NewEngine();
  const std::vector<int32_t> expected = RunGreedy(*reference, prompt, 20);

  std::unique_ptr<Engine> engine = NewEngine();
  const RequestId id = *engine->AddRequest(prompt, Greedy(20));
  std::vector<int32_t> generated;
  while (generated.size() < 6) {
    absl::StatusOr<std::vector<TokenEvent>> step = engine->Step();
    ASSERT_TRUE(step.ok()) << step.status();
    for (const TokenEvent& e : *step) generated.push_back(e.token_id);
  }
  absl::StatusOr<KvSnapshot> kv = engine->ExportKv(id);
  ASSERT_TRUE(kv.ok()) << kv.status();
  // Computed: the prompt and every generated token but the newest.
  EXPECT_EQ(kv->num_tokens(), 19 + 5);
  SampledToken newest;
  newest.token_id = generated.back();
  kv->first_tokens = {newest};
  std::unique_ptr<Engine> other = NewEngine();
  ASSERT_TRUE(other->ImportRequest(Greedy(20 - 5), *std::move(kv)).ok());
  std::vector<int32_t> continued = TokensBySample(RunToEnd(*other)).begin()->second;
  std::vector<int32_t> joined(generated.begin(), generated.end() - 1);
  joined.insert(joined.end(), continued.begin(), continued.end());
  EXPECT_EQ(joined, expected);
  EXPECT_EQ(engine->ExportKv(id + 100).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, InvalidRequestsAreRefusedWithAReason) {
  std::unique_ptr<Engine> engine = NewEngine(SmallEngineOptions(/*num_kv_blocks=*/16, 4));
  EXPECT_EQ(engine->max_model_len(), 16 * 4 + 1);
  const auto refused = [&](std::vector<int32_t> prompt, SamplingParams params) {
    absl::StatusOr<RequestId> id = engine->AddRequest(std::move(prompt), params);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(id.status().message());
  };
  EXPECT_THAT(refused({}, Greedy(4)), HasSubstr("no tokens"));
  EXPECT_THAT(refused({1, 512}, Greedy(4)), HasSubstr("outside the vocabulary"));
  EXPECT_THAT(refused(Prompt(65, 1), Greedy(4)), HasSubstr("context window"));
  SamplingParams bad = Greedy(4);
  bad.temperature = -1;
  EXPECT_THAT(refused({1, 2}, bad), HasSubstr("temperature"));
  SamplingParams stops = Greedy(4);
  stops.stop = {"\n"};
  EXPECT_THAT(refused({1, 2}, stops), HasSubstr("tokenizer"));
  EXPECT_FALSE(engine->HasWork());
  // A long prompt still fits and is generated until the context window is full.
  SamplingParams unbounded = Greedy(4);
  unbounded.max_tokens.reset();
  ASSERT_TRUE(engine->AddRequest(Prompt(60, 1), unbounded).ok());
  const std::vector<TokenEvent> events = RunToEnd(*engine);
  EXPECT_EQ(events.back().finish, FinishReason::kContextLength);
  EXPECT_EQ(events.back().num_generated_tokens, 5);
}

TEST_F(EngineTest, EosEndsASampleUnlessIgnored) {
  std::unique_ptr<Engine> probe = NewEngine();
  const std::vector<int32_t> tokens = RunGreedy(*probe, Prompt(8, 3), 8);
  ASSERT_EQ(tokens.size(), 8u);
  // Make the third greedy token the EOS token.
  EngineOptions options = SmallEngineOptions();
  options.eos_token_ids = {tokens[2]};
  std::unique_ptr<Engine> engine = NewEngine(options);
  SamplingParams params = Greedy(8);
  params.ignore_eos = false;
  ASSERT_TRUE(engine->AddRequest(Prompt(8, 3), params).ok());
  const std::vector<TokenEvent> events = RunToEnd(*engine);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events.back().finish, FinishReason::kEos);
  EXPECT_TRUE(events.back().request_done);
}

TEST_F(EngineTest, LoopServesSubmittersOnOtherThreads) {
  std::vector<std::vector<int32_t>> alone;
  for (int i = 0; i < 3; ++i) {
    std::unique_ptr<Engine> engine = NewEngine();
    alone.push_back(RunGreedy(*engine, Prompt(7 + i, i), 30));
  }
  EngineLoop loop(NewEngine());
  std::mutex mu;
  std::condition_variable changed;
  std::map<RequestId, std::vector<int32_t>> tokens;
  std::map<RequestId, int> done;
  std::map<RequestId, FinishReason> finish;
  const auto sink = [&](TokenEvent e) {
    {
      std::lock_guard lock(mu);
      if (e.token_id >= 0) tokens[e.request].push_back(e.token_id);
      if (e.finish != FinishReason::kNone) finish[e.request] = e.finish;
      if (e.request_done) ++done[e.request];
    }
    changed.notify_all();
  };
  std::vector<RequestId> ids(3);
  std::vector<std::thread> submitters;
  for (int i = 0; i < 3; ++i) {
    submitters.emplace_back([&, i] {
      ids[static_cast<size_t>(i)] = *loop.Submit(Prompt(7 + i, i), Greedy(30), {}, sink);
    });
  }
  for (std::thread& t : submitters) t.join();
  const RequestId endless = *loop.Submit(Prompt(5, 9), Greedy(1000), {}, sink);
  absl::StatusOr<RequestId> invalid = loop.Submit({}, Greedy(3), {}, sink);
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  {
    std::unique_lock lock(mu);
    changed.wait(lock, [&] { return tokens.size() >= 4; });
  }
  loop.Cancel(endless);
  loop.Cancel(endless);  // idempotent
  {
    std::unique_lock lock(mu);
    changed.wait(lock, [&] { return done.size() == 4; });
  }
  loop.Shutdown();
  std::lock_guard lock(mu);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(tokens[ids[static_cast<size_t>(i)]], alone[static_cast<size_t>(i)]);
    EXPECT_EQ(done[ids[static_cast<size_t>(i)]], 1);
  }
  EXPECT_EQ(done[endless], 1);
  EXPECT_EQ(finish[endless], FinishReason::kCancelled);
  EXPECT_EQ(loop.Submit(Prompt(3, 1), Greedy(2), {}, sink).status().code(),
            absl::StatusCode::kUnavailable);
}

// The load observer sees the load at once, then after every step: the KV blocks a request
// holds while it runs and gives back when it ends; removing it stops the calls.
TEST_F(EngineTest, LoadObserverFollowsEveryStep) {
  EngineLoop loop(NewEngine());
  std::mutex mu;
  std::condition_variable changed;
  std::vector<int64_t> used;  // kv used_blocks of every call
  loop.SetLoadObserver([&](const EngineLoad& load) {
    {
      std::lock_guard lock(mu);
      used.push_back(load.scheduler.kv.used_blocks);
    }
    changed.notify_all();
  });
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(used.size(), 1u) << "called once at once";
    EXPECT_EQ(used[0], 0);
  }
  std::atomic<bool> done{false};
  ASSERT_TRUE(loop.Submit(Prompt(40, 2), Greedy(8), {},
                          [&](TokenEvent e) {
                            if (e.request_done) done = true;
                          })
                  .ok());
  {
    std::unique_lock lock(mu);
    changed.wait(lock, [&] { return done && !used.empty() && used.back() == 0; });
    EXPECT_GT(*std::max_element(used.begin(), used.end()), 0) << "blocks held while running";
    EXPECT_GE(used.size(), 8u) << "a call per step";
  }
  loop.SetLoadObserver(nullptr);
  size_t calls;
  {
    std::lock_guard lock(mu);
    calls = used.size();
  }
  ASSERT_TRUE(loop.Submit(Prompt(10, 3), Greedy(4), {}, [](TokenEvent) {}).ok());
  loop.Shutdown();
  std::lock_guard lock(mu);
  EXPECT_EQ(used.size(), calls) << "no calls once removed";
}

TEST_F(EngineTest, ShutdownEndsRunningRequests) {
  EngineLoop loop(NewEngine());
  // Written on the loop thread, read after Shutdown() joined it.
  bool done = false;
  FinishReason reason = FinishReason::kNone;
  ASSERT_TRUE(loop.Submit(Prompt(5, 1), Greedy(100), {},
                          [&](TokenEvent e) {
                            if (e.request_done) {
                              reason = e.finish;
                              done = true;
                            }
                          })
                  .ok());
  loop.Shutdown();
  ASSERT_TRUE(done);
  EXPECT_TRUE(reason == FinishReason::kCancelled || reason == FinishReason::kLength);
}

}  // namespace
}  // namespace r1serve::engine
