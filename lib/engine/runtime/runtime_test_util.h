// Helpers shared by the runtime's tests (header-only, so that the library holds no test code):
// tiny random-weight models written at test time with lib/engine/format's writer, engines over
// them, and a greedy run to completion.
//
//   std::string dir = TestDir("engine");
//   ASSIGN_OR_RETURN(std::shared_ptr<const Model> model,
//                    WriteAndLoad(TinyConfig(Architecture::kQwen2), DType::kF32, dir + "/m.gguf"));
//   std::unique_ptr<Engine> engine = *Engine::Create(model, CreateCpuBackend({.num_threads = 2}),
//                                                    nullptr, SmallEngineOptions());
//   std::vector<int32_t> tokens = RunGreedy(*engine, {1, 2, 3}, /*max_tokens=*/16);
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "lib/base/status_macros.h"
#include "lib/engine/backend/backend.h"
#include "lib/engine/format/model.h"
#include "lib/engine/format/random_model.h"
#include "lib/engine/runtime/engine.h"

namespace r1serve::engine::testing_util {

// A fresh directory under the test temp dir, unique to this process.
inline std::string TestDir(const std::string& name) {
  const std::string dir =
      ::testing::TempDir() + "/r1serve_runtime_" + name + "_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  return dir;
}

// 2 layers, GQA (4 query heads over 2 KV heads), a 512-token vocabulary: small enough that a
// forward pass takes well under a millisecond, big enough to exercise every op.
inline ModelConfig TinyConfig(Architecture architecture, int64_t vocab = 512) {
  ModelConfig c;
  c.architecture = architecture;
  c.vocab_size = vocab;
  c.hidden_size = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.intermediate_size = 128;
  c.max_position_embeddings = 4096;
  c.eos_token_id = 1;
  if (architecture == Architecture::kLlama3) {
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 500000;
    // Scaling that bends the middle frequencies at this head size and context (unlike Llama
    // 3.1's 8192 original context, under which a 16-wide head's frequencies are all unscaled
    // or all scaled).
    c.rope_scaling = {.type = RopeScalingType::kLlama3,
                      .factor = 8,
                      .low_freq_factor = 1,
                      .high_freq_factor = 4,
                      .original_max_position_embeddings = 64};
  } else {
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000;
  }
  return c;
}

// Writes the model (a folder when `path` does not end in ".gguf") and loads it.
inline absl::StatusOr<std::shared_ptr<const Model>> WriteAndLoad(const ModelConfig& config,
                                                                 DType dtype,
                                                                 const std::string& path,
                                                                 double output_scale = 8,
                                                                 uint64_t seed = 1) {
  RandomModelOptions options;
  options.config = config;
  options.dtype = dtype;
  options.seed = seed;
  options.output_scale = output_scale;
  if (absl::EndsWith(path, ".gguf")) {
    RETURN_IF_ERROR(WriteGgufModel(options, nullptr, path));
  } else {
    RETURN_IF_ERROR(WriteHfModel(options, nullptr, path));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel(path));
  return std::shared_ptr<const Model>(std::move(model));
}

inline EngineOptions SmallEngineOptions(int num_kv_blocks = 256, int block_size = 4) {
  EngineOptions options;
  options.num_kv_blocks = num_kv_blocks;
  options.block_size = block_size;
  options.kv_dtype = DType::kF32;
  options.max_num_batched_tokens = 64;
  options.max_num_seqs = 16;
  options.watermark_blocks = 0;
  return options;
}

inline absl::StatusOr<std::unique_ptr<Engine>> MakeEngine(std::shared_ptr<const Model> model,
                                                          const EngineOptions& options) {
  return Engine::Create(std::move(model), CreateCpuBackend({.num_threads = 2}), nullptr, options);
}

inline SamplingParams Greedy(uint32_t max_tokens) {
  SamplingParams params;
  params.temperature = 0;
  params.max_tokens = max_tokens;
  params.ignore_eos = true;
  return params;
}

// Steps the engine until it has no work; returns every event, in order.
inline std::vector<TokenEvent> RunToEnd(Engine& engine) {
  std::vector<TokenEvent> all;
  while (engine.HasWork()) {
    absl::StatusOr<std::vector<TokenEvent>> events = engine.Step();
    EXPECT_TRUE(events.ok()) << events.status();
    if (!events.ok()) break;
    for (TokenEvent& e : *events) all.push_back(std::move(e));
  }
  return all;
}

// The generated token ids of each (request, sample), in order.
inline std::map<std::pair<RequestId, int>, std::vector<int32_t>> TokensBySample(
    const std::vector<TokenEvent>& events) {
  std::map<std::pair<RequestId, int>, std::vector<int32_t>> tokens;
  for (const TokenEvent& e : events) {
    if (e.token_id >= 0) tokens[{e.request, e.sample_index}].push_back(e.token_id);
  }
  return tokens;
}

// Adds one request and runs the engine to the end: its sample 0's tokens.
inline std::vector<int32_t> RunOne(Engine& engine, const std::vector<int32_t>& prompt,
                                   const SamplingParams& params) {
  absl::StatusOr<RequestId> id = engine.AddRequest(prompt, params);
  EXPECT_TRUE(id.ok()) << id.status();
  if (!id.ok()) return {};
  return TokensBySample(RunToEnd(engine))[{*id, 0}];
}

inline std::vector<int32_t> RunGreedy(Engine& engine, const std::vector<int32_t>& prompt,
                                      uint32_t max_tokens) {
  return RunOne(engine, prompt, Greedy(max_tokens));
}

// Deterministic pseudo-random prompt ids in [2, vocab).
inline std::vector<int32_t> Prompt(int length, int salt, int64_t vocab = 512) {
  std::vector<int32_t> ids;
  uint32_t x = 2654435761u * static_cast<uint32_t>(salt + 1);
  for (int i = 0; i < length; ++i) {
    x = x * 1664525u + 1013904223u;
    ids.push_back(static_cast<int32_t>(2 + (x >> 8) % static_cast<uint32_t>(vocab - 2)));
  }
  return ids;
}

}  // namespace r1serve::engine::testing_util
