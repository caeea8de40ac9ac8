// Microbenchmark of SequenceSampler at Qwen2's vocabulary (151,936 logits): time per sampled
// token (Sample + Append) for greedy, the R1 default (temperature 0.6, top_p 0.95), top_k,
// plain temperature, logprobs and penalties, on three kinds of rows:
// - "trained": N(0, 2.5) logits with a few tokens 18-25 above: a trained model's confident row
//   (after the 32-temperature-unit cut, a few thousand candidates);
// - "gaussian": N(0, 3) logits, a hard case: nearly the whole row is a candidate, yet a few
//   tokens carry the mass;
// - "flat": U(0, 1) logits, a random-weight model's row: top_p keeps most of the vocabulary.
//
//   ninja -C build sampler_bench && build/bin/sampler_bench
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "lib/engine/sampler/sequence_sampler.h"

namespace r1serve::engine {
namespace {

constexpr int32_t kVocab = 151936;

std::vector<float> GaussianRow(float stddev) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> row(kVocab);
  for (float& v : row) v = normal(gen);
  return row;
}

std::vector<float> TrainedRow() {
  std::vector<float> row = GaussianRow(2.5f);
  row[1000] = 25.0f;
  row[2000] = 22.0f;
  row[3000] = 20.0f;
  row[4000] = 18.0f;
  return row;
}

std::vector<float> FlatRow() {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> row(kVocab);
  for (float& v : row) v = uniform(gen);
  return row;
}

void Run(benchmark::State& state, SamplingParams params, std::vector<float> row,
         int prompt_tokens = 0) {
  params.seed = 1;
  std::vector<int32_t> prompt(prompt_tokens);
  for (int i = 0; i < prompt_tokens; ++i) prompt[i] = (i * 7919) % kVocab;
  SequenceSamplerOptions options;
  options.vocab_size = kVocab;
  absl::StatusOr<SequenceSampler> sampler = SequenceSampler::Create(params, prompt, options);
  if (!sampler.ok()) {
    state.SkipWithError(std::string(sampler.status().message()).c_str());
    return;
  }
  SamplingWorkspace workspace;
  for (auto _ : state) {
    absl::StatusOr<SampledToken> token = sampler->Sample(row, workspace);
    benchmark::DoNotOptimize(token);
    if (!token.ok() || !sampler->Append(token->token_id).ok()) {
      state.SkipWithError("sampling failed");
      return;
    }
  }
}

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0;
  return p;
}

SamplingParams R1Default() {
  SamplingParams p;
  p.temperature = 0.6f;
  p.top_p = 0.95f;
  return p;
}

SamplingParams TopK50() {
  SamplingParams p = R1Default();
  p.top_p = 1.0f;
  p.top_k = 50;
  return p;
}

SamplingParams Temperature1() {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 1.0f;
  return p;
}

SamplingParams WithLogprobs5() {
  SamplingParams p = R1Default();
  p.logprobs = 5;
  return p;
}

// Repetition and presence penalties (a frequency penalty would keep lowering the row's top
// tokens as the benchmark samples them over and over, drifting into another kind of row).
SamplingParams WithPenalties() {
  SamplingParams p = R1Default();
  p.repetition_penalty = 1.1f;
  p.presence_penalty = 0.2f;
  return p;
}

void BM_Greedy_Trained(benchmark::State& s) { Run(s, Greedy(), TrainedRow()); }
void BM_Greedy_Flat(benchmark::State& s) { Run(s, Greedy(), FlatRow()); }
void BM_TopP_Trained(benchmark::State& s) { Run(s, R1Default(), TrainedRow()); }
void BM_TopP_Gaussian(benchmark::State& s) { Run(s, R1Default(), GaussianRow(3.0f)); }
void BM_TopP_Flat(benchmark::State& s) { Run(s, R1Default(), FlatRow()); }
void BM_TopK50_Trained(benchmark::State& s) { Run(s, TopK50(), TrainedRow()); }
void BM_TopK50_Flat(benchmark::State& s) { Run(s, TopK50(), FlatRow()); }
void BM_Temperature_Gaussian(benchmark::State& s) { Run(s, Temperature1(), GaussianRow(3.0f)); }
void BM_Temperature_Flat(benchmark::State& s) { Run(s, Temperature1(), FlatRow()); }
void BM_TopP_Logprobs5_Trained(benchmark::State& s) { Run(s, WithLogprobs5(), TrainedRow()); }
void BM_TopP_Logprobs5_Flat(benchmark::State& s) { Run(s, WithLogprobs5(), FlatRow()); }
void BM_TopP_Penalties2kPrompt_Trained(benchmark::State& s) {
  Run(s, WithPenalties(), TrainedRow(), /*prompt_tokens=*/2000);
}

BENCHMARK(BM_Greedy_Trained)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Greedy_Flat)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopP_Trained)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopP_Gaussian)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopP_Flat)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopK50_Trained)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopK50_Flat)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Temperature_Gaussian)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Temperature_Flat)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopP_Logprobs5_Trained)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopP_Logprobs5_Flat)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopP_Penalties2kPrompt_Trained)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace r1serve::engine

BENCHMARK_MAIN();
