// engine_bench: r1serve's engine speed on one GGUF file, measured exactly as
// bench/llama_cpp_bench.js measures llama.cpp, so that the two can be divided.
//
//   build/bench/engine_bench --model M.gguf --threads 2 --runs 3 [--out F]
//
// Prompts: MakePromptIds(prompt_len, seed) is llama_cpp_bench.js's makePromptIds (xorshift32,
// ids in [0, 100000)); concurrent sequence j gets MakePromptIds(sequence_prompt_len,
// seed + 1 + j). All sampling is greedy (temperature 0) and never stops on EOS.
//
// Setup (not timed): CPU backend with --threads threads, KV cache f16, prefix caching OFF (every
// run recomputes its prompt, as llama.cpp does after clearing its sequence), one forward pass
// large enough for the whole prompt (max_num_batched_tokens >= prompt_len and >= sequences *
// sequence_prompt_len) and room for all sequences. One warm-up pass (the prompt and 8 decode
// steps) before the timed runs.
//
// What is timed, each of --runs times (steady_clock around Engine::Step calls):
// - prefill: from the first Step of a fresh request of prompt_len ids until its first token
//   (one forward pass of the whole prompt plus sampling); tokens/s = prompt_len / time.
// - decode, batch 1: the decode_tokens steps that follow on the same request;
//   tokens/s = decode_tokens / time.
// - decode, concurrent: `sequences` requests are added and stepped until each has its first
//   token (their prefill, not timed), then timed until each has sequence_tokens more;
//   aggregate tokens/s = sequences * sequence_tokens / time.
// Output: one JSON object on stdout, each measure's tokens_per_s as {median, min, max, runs}
// (the shape llama_cpp_bench.js prints); progress on stderr.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/run_stats.h"
#include "lib/base/status_macros.h"
#include "lib/engine/backend/backend.h"
#include "lib/engine/format/model.h"
#include "lib/engine/runtime/engine.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, model, "", "GGUF file (required).");
ABSL_FLAG(int, threads, 2, "CPU threads.");
ABSL_FLAG(int, runs, 3, "Timed runs per measure (after one warm-up).");
ABSL_FLAG(int, prompt_len, 512, "Prompt tokens of the prefill / batch-1 measure.");
ABSL_FLAG(int, decode_tokens, 64, "Timed batch-1 decode steps.");
ABSL_FLAG(int, sequences, 16, "Concurrent sequences.");
ABSL_FLAG(int, sequence_prompt_len, 128, "Prompt tokens of each concurrent sequence.");
ABSL_FLAG(int, sequence_tokens, 32, "Timed decode steps of each concurrent sequence.");
ABSL_FLAG(int, seed, 1, "Prompt seed (as llama_cpp_bench.js --seed).");
ABSL_FLAG(int, kv_cache_mb, 1024, "KV cache size in MiB.");
ABSL_FLAG(std::string, out, "", "Also write the JSON here.");

namespace r1serve::engine {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// llama_cpp_bench.js makePromptIds: xorshift32 (13, 17, 5) from `seed`, modulo 100000.
std::vector<int32_t> MakePromptIds(int length, uint32_t seed) {
  uint32_t s = seed == 0 ? 1 : seed;
  std::vector<int32_t> ids;
  for (int i = 0; i < length; ++i) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    ids.push_back(static_cast<int32_t>(s % 100000));
  }
  return ids;
}

SamplingParams Greedy(int max_tokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.ignore_eos = true;
  p.max_tokens = static_cast<uint32_t>(max_tokens);
  return p;
}

// Steps until `count` more tokens have come out in total, failing on any error event.
absl::Status StepUntilTokens(Engine& engine, int64_t count) {
  int64_t seen = 0;
  while (seen < count) {
    if (!engine.HasWork()) return absl::InternalError("the engine ran out of work early");
    ASSIGN_OR_RETURN(std::vector<TokenEvent> events, engine.Step());
    for (const TokenEvent& e : events) {
      if (e.finish == FinishReason::kError) return e.error;
      if (e.token_id >= 0) ++seen;
    }
  }
  return absl::OkStatus();
}

// One prefill of `prompt` then `decode_tokens` steps; the two times in seconds.
absl::StatusOr<std::pair<double, double>> PrefillAndDecode(Engine& engine,
                                                           const std::vector<int32_t>& prompt,
                                                           int decode_tokens) {
  RETURN_IF_ERROR(engine.AddRequest(prompt, Greedy(1 + decode_tokens)).status());
  const Clock::time_point start = Clock::now();
  RETURN_IF_ERROR(StepUntilTokens(engine, 1));
  const Clock::time_point first = Clock::now();
  RETURN_IF_ERROR(StepUntilTokens(engine, decode_tokens));
  const Clock::time_point end = Clock::now();
  while (engine.HasWork()) RETURN_IF_ERROR(engine.Step().status());
  return std::make_pair(Seconds(first - start), Seconds(end - first));
}

absl::Status Run() {
  const std::string path = absl::GetFlag(FLAGS_model);
  if (path.empty()) return absl::InvalidArgumentError("--model is required");
  const int threads = absl::GetFlag(FLAGS_threads);
  const int runs = absl::GetFlag(FLAGS_runs);
  const int prompt_len = absl::GetFlag(FLAGS_prompt_len);
  const int decode_tokens = absl::GetFlag(FLAGS_decode_tokens);
  const int sequences = absl::GetFlag(FLAGS_sequences);
  const int sequence_prompt_len = absl::GetFlag(FLAGS_sequence_prompt_len);
  const int sequence_tokens = absl::GetFlag(FLAGS_sequence_tokens);
  const uint32_t seed = static_cast<uint32_t>(absl::GetFlag(FLAGS_seed));
  if (runs < 1) return absl::InvalidArgumentError("--runs must be >= 1");
  auto progress = [](const std::string& m) { std::cerr << "engine_bench: " << m << "\n"; };

  ASSIGN_OR_RETURN(std::unique_ptr<Model> loaded, LoadModel(path));
  std::shared_ptr<const Model> model = std::move(loaded);
  EngineOptions options;
  options.kv_cache_bytes = int64_t{absl::GetFlag(FLAGS_kv_cache_mb)} << 20;
  options.kv_dtype = DType::kF16;
  // The whole prompt (and all concurrent prompts) in one forward pass, as llama.cpp's batch.
  options.max_num_batched_tokens = std::max({2048, prompt_len, sequences * sequence_prompt_len});
  options.max_num_seqs = std::max(64, sequences);
  options.max_model_len =
      std::max(prompt_len + decode_tokens, sequence_prompt_len + sequence_tokens) + 16;
  // Repeated prompts must be recomputed each run, not found in the cache.
  options.enable_prefix_caching = false;
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                   Engine::Create(model, CreateCpuBackend({.num_threads = threads}),
                                  /*tokenizer=*/nullptr, options));

  const std::vector<int32_t> prompt = MakePromptIds(prompt_len, seed);
  progress(absl::StrCat("warm-up (", prompt_len, "-token prefill, 8 steps)"));
  RETURN_IF_ERROR(PrefillAndDecode(*engine, prompt, 8).status());

  std::vector<double> prefill, decode;
  for (int run = 0; run < runs; ++run) {
    ASSIGN_OR_RETURN(auto times, PrefillAndDecode(*engine, prompt, decode_tokens));
    prefill.push_back(prompt_len / times.first);
    decode.push_back(decode_tokens / times.second);
    progress(absl::StrCat("run ", run + 1, ": prefill ", prefill.back(), " tok/s, decode ",
                          decode.back(), " tok/s"));
  }

  std::vector<double> concurrent;
  for (int run = 0; run < runs; ++run) {
    for (int j = 0; j < sequences; ++j) {
      RETURN_IF_ERROR(engine
                          ->AddRequest(MakePromptIds(sequence_prompt_len, seed + 1 + j),
                                       Greedy(1 + sequence_tokens))
                          .status());
    }
    // Not timed: the prompts and each sequence's first token.
    RETURN_IF_ERROR(StepUntilTokens(*engine, sequences));
    const Clock::time_point start = Clock::now();
    RETURN_IF_ERROR(StepUntilTokens(*engine, int64_t{sequences} * sequence_tokens));
    const double elapsed = Seconds(Clock::now() - start);
    while (engine->HasWork()) RETURN_IF_ERROR(engine->Step().status());
    concurrent.push_back(sequences * sequence_tokens / elapsed);
    progress(absl::StrCat("run ", run + 1, ": ", sequences, " sequences ", concurrent.back(),
                          " tok/s aggregate"));
  }

  // What a step reads and computes, to set the tokens/s against the machine's limits: a decode
  // step reads every weight but the embedding table (which it reads only when tied, as the
  // output projection); a prompt token costs 2 flops per weight of the layers' matrices
  // (attention over the prompt and the one row of logits add ~2% at 512 tokens).
  int64_t decode_bytes = 0;
  for (const TensorView& t : model->tensors()) {
    if (&t != &model->token_embd() || &model->output() == &model->token_embd()) {
      decode_bytes += t.size_bytes;
    }
  }
  int64_t layer_matrix_params = 0;
  for (int64_t l = 0; l < model->config().num_layers; ++l) {
    const LayerWeights& w = model->layer(l);
    for (const TensorView* m : {w.wq, w.wk, w.wv, w.wo, w.w_gate, w.w_up, w.w_down}) {
      layer_matrix_params += m->num_elements();
    }
  }

  const Json result = {
      {"engine", "r1serve"},
      {"model", path},
      {"decode_bytes_per_token", decode_bytes},
      {"prefill_flops_per_token", 2 * layer_matrix_params},
      {"threads", threads},
      {"runs", runs},
      {"prefill", {{"prompt_tokens", prompt_len}, {"tokens_per_s", bench::RunStatsJson(prefill)}}},
      {"decode_batch1",
       {{"context_start", prompt_len},
        {"tokens", decode_tokens},
        {"tokens_per_s", bench::RunStatsJson(decode)}}},
      {"decode_concurrent",
       {{"sequences", sequences},
        {"prompt_tokens_each", sequence_prompt_len},
        {"tokens_each", sequence_tokens},
        {"tokens_per_s", bench::RunStatsJson(concurrent)}}},
  };
  const std::string json = result.dump(2) + "\n";
  if (const std::string out = absl::GetFlag(FLAGS_out); !out.empty()) {
    std::ofstream(out) << json;
  }
  std::cout << json;
  return absl::OkStatus();
}

}  // namespace
}  // namespace r1serve::engine

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "engine_bench: prefill / decode tokens/s of r1serve's engine, as llama_cpp_bench.js.\n"
      "  engine_bench --model M.gguf [--threads 2] [--runs 3] [--out F]");
  absl::ParseCommandLine(argc, argv);
  absl::Status status = r1serve::engine::Run();
  if (!status.ok()) {
    std::cerr << "engine_bench: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
