// Memory: a loaded model costs its weights file (mapped, used in its stored dtype, not
// converted) plus the configured KV cache, plus little else. Measured as the growth of the
// process's resident set (VmRSS in /proc/self/status) from before loading to after forward
// passes that have touched every weight (tied embeddings: the output projection reads the whole
// table).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "lib/engine/runtime/engine.h"
#include "lib/engine/runtime/runtime_test_util.h"

namespace r1serve::engine {
namespace {

using testing_util::Prompt;
using testing_util::RunGreedy;
using testing_util::TestDir;

int64_t ResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmRSS:")) {
      int64_t kb = 0;
      EXPECT_TRUE(absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kb))
          << line;
      return kb * 1024;
    }
  }
  ADD_FAILURE() << "no VmRSS in /proc/self/status";
  return 0;
}

// F16 weights are used in the mapped file; Q8_0 matrices on an AVX-512 CPU are copied into
// the backend's packed layout, and their file pages leave the resident set.
class EngineMemoryTest : public testing::TestWithParam<DType> {};

TEST_P(EngineMemoryTest, ResidentSetIsWeightsPlusKvCache) {
  // About 80 MB of weights: large against the allocator's and the libraries' noise.
  const DType dtype = GetParam();
  ModelConfig config = testing_util::TinyConfig(Architecture::kQwen2, /*vocab=*/32000);
  config.hidden_size = 512;
  config.num_layers = dtype == DType::kQ8_0 ? 16 : 8;
  config.num_heads = 8;
  config.num_kv_heads = 2;
  config.head_dim = 64;
  config.intermediate_size = 1536;
  config.tie_word_embeddings = true;
  RandomModelOptions options;
  options.config = config;
  options.dtype = dtype;
  const std::string path = TestDir("memory") + "/m-" + std::string(DTypeName(dtype)) + ".gguf";
  ASSERT_TRUE(WriteGgufModel(options, nullptr, path).ok());
  const int64_t file_bytes = static_cast<int64_t>(std::filesystem::file_size(path));

  const int64_t before = ResidentBytes();
  absl::StatusOr<std::unique_ptr<Model>> loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EngineOptions engine_options;
  engine_options.kv_cache_bytes = int64_t{32} << 20;
  engine_options.kv_dtype = DType::kF16;
  engine_options.max_num_batched_tokens = 256;
  engine_options.max_num_seqs = 8;
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(std::shared_ptr<const Model>(*std::move(loaded)),
                     CreateCpuBackend({.num_threads = 2}), nullptr, engine_options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  const std::vector<int32_t> tokens = RunGreedy(**engine, Prompt(200, 1, 32000), 8);
  ASSERT_EQ(tokens.size(), 8u);
  const int64_t grown = ResidentBytes() - before;
  const int64_t kv_bytes = (*engine)->Load().kv_cache_bytes;

  const int64_t budget = file_bytes + kv_bytes;
  RecordProperty("file_bytes", absl::StrCat(file_bytes));
  RecordProperty("kv_cache_bytes", absl::StrCat(kv_bytes));
  RecordProperty("rss_growth_bytes", absl::StrCat(grown));
  std::cout << "weights file " << file_bytes << " B, KV cache " << kv_bytes
            << " B, resident set grew " << grown << " B ("
            << 100.0 * static_cast<double>(grown) / static_cast<double>(budget)
            << "% of weights + KV)\n";
  EXPECT_LE(grown, budget + budget / 10);
  // Every weight was read, once: in place from the mapped file, or from the packed copy (a
  // second copy, or file pages kept next to it, would add as much again and break the bound
  // above).
  EXPECT_GE(grown, file_bytes * 9 / 10);
}

INSTANTIATE_TEST_SUITE_P(DTypes, EngineMemoryTest, testing::Values(DType::kF16, DType::kQ8_0),
                         [](const testing::TestParamInfo<DType>& info) {
                           return std::string(DTypeName(info.param));
                         });

}  // namespace
}  // namespace r1serve::engine
