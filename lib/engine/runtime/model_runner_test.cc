// ModelRunner on tiny random-weight models written at test time: against a double-precision
// reference forward pass written out by the book (llama2.c style), batched against unbatched,
// chunked prefill against one-shot prefill, and the same weights as safetensors and as GGUF.
#include "lib/engine/runtime/model_runner.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/engine/backend/backend.h"
#include "lib/engine/runtime/runtime_test_util.h"

namespace r1serve::engine {
namespace {

using testing_util::Prompt;
using testing_util::TestDir;
using testing_util::TinyConfig;
using testing_util::WriteAndLoad;

constexpr int kBlockSize = 4;
constexpr int kNumBlocks = 128;

// A backend with an F32 KV cache for `model`, and a runner over it.
struct Rig {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ModelRunner> runner;
};

Rig MakeRig(const Model& model, DType kv_dtype = DType::kF32) {
  Rig rig;
  rig.backend = CreateCpuBackend({.num_threads = 2});
  const ModelConfig& c = model.config();
  KvCacheSpec spec{.num_layers = static_cast<int>(c.num_layers),
                   .num_blocks = kNumBlocks,
                   .block_size = kBlockSize,
                   .num_kv_heads = static_cast<int>(c.num_kv_heads),
                   .head_dim = static_cast<int>(c.head_dim),
                   .dtype = kv_dtype};
  EXPECT_TRUE(rig.backend->AllocateKvCache(spec).ok());
  absl::StatusOr<std::unique_ptr<ModelRunner>> runner =
      ModelRunner::Create(model, rig.backend.get(), {.max_batch_tokens = 128, .max_logit_rows = 8});
  EXPECT_TRUE(runner.ok()) << runner.status();
  rig.runner = *std::move(runner);
  return rig;
}

// Blocks [first, first + count) as a block table.
std::vector<int32_t> Blocks(int first, int count) {
  std::vector<int32_t> table(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) table[static_cast<size_t>(i)] = first + i;
  return table;
}

std::vector<float> Row(std::span<const float> logits, size_t row, size_t vocab) {
  return std::vector<float>(logits.begin() + static_cast<ptrdiff_t>(row * vocab),
                            logits.begin() + static_cast<ptrdiff_t>((row + 1) * vocab));
}

// max |a - b| / max(1, max |b|): the error relative to the logits' scale.
double RelativeError(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

// The logits of the last token of `prompt` computed as one chunk on a fresh rig.
std::vector<float> OneShot(const Model& model, const std::vector<int32_t>& prompt) {
  Rig rig = MakeRig(model);
  const std::vector<int32_t> table =
      Blocks(0, static_cast<int>(prompt.size() + kBlockSize) / kBlockSize);
  const SequenceChunk chunk{prompt, 0, table, true};
  absl::StatusOr<std::span<float>> logits = rig.runner->Forward({&chunk, 1});
  EXPECT_TRUE(logits.ok()) << logits.status();
  return std::vector<float>(logits->begin(), logits->end());
}

// A transformer by the book, in double precision over the dequantized weights, one token at a
// time with a plain (unpaged) KV cache: what the runner must compute.
class ReferenceModel {
 public:
  explicit ReferenceModel(const Model& model) : model_(model), c_(model.config()) {
    const int half = static_cast<int>(c_.head_dim / 2);
    for (int i = 0; i < half; ++i) {
      double w = std::pow(c_.rope_theta, -2.0 * i / static_cast<double>(c_.head_dim));
      if (!c_.rope_freq_factors.empty()) w /= c_.rope_freq_factors[static_cast<size_t>(i)];
      inv_freq_.push_back(w);
    }
    keys_.resize(static_cast<size_t>(c_.num_layers));
    values_.resize(static_cast<size_t>(c_.num_layers));
  }

  // Logits after feeding `token` at the next position.
  std::vector<double> Step(int32_t token) {
    const int64_t hidden = c_.hidden_size, hd = c_.head_dim;
    const int64_t heads = c_.num_heads, kv_heads = c_.num_kv_heads;
    const int position = static_cast<int>(keys_[0].size());
    std::vector<double> x = Rows(model_.token_embd(), token);
    for (int64_t l = 0; l < c_.num_layers; ++l) {
      const LayerWeights& w = model_.layer(l);
      std::vector<double> h = RmsNorm(x, *w.attn_norm);
      std::vector<double> q = MatVec(*w.wq, h, w.bq);
      std::vector<double> k = MatVec(*w.wk, h, w.bk);
      std::vector<double> v = MatVec(*w.wv, h, w.bv);
      Rope(q, position);
      Rope(k, position);
      keys_[static_cast<size_t>(l)].push_back(k);
      values_[static_cast<size_t>(l)].push_back(v);
      std::vector<double> attn(static_cast<size_t>(heads * hd), 0.0);
      for (int64_t head = 0; head < heads; ++head) {
        const int64_t kvh = head / (heads / kv_heads);
        std::vector<double> scores;
        for (const std::vector<double>& key : keys_[static_cast<size_t>(l)]) {
          double dot = 0;
          for (int64_t i = 0; i < hd; ++i) dot += q[head * hd + i] * key[kvh * hd + i];
          scores.push_back(dot / std::sqrt(static_cast<double>(hd)));
        }
        const double max = *std::max_element(scores.begin(), scores.end());
        double sum = 0;
        for (double& s : scores) sum += (s = std::exp(s - max));
        for (size_t t = 0; t < scores.size(); ++t) {
          for (int64_t i = 0; i < hd; ++i) {
            attn[head * hd + i] +=
                scores[t] / sum * values_[static_cast<size_t>(l)][t][kvh * hd + i];
          }
        }
      }
      std::vector<double> o = MatVec(*w.wo, attn, nullptr);
      for (int64_t i = 0; i < hidden; ++i) x[i] += o[i];
      h = RmsNorm(x, *w.ffn_norm);
      std::vector<double> gate = MatVec(*w.w_gate, h, nullptr);
      std::vector<double> up = MatVec(*w.w_up, h, nullptr);
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
      std::vector<double> down = MatVec(*w.w_down, gate, nullptr);
      for (int64_t i = 0; i < hidden; ++i) x[i] += down[i];
    }
    return MatVec(model_.output(), RmsNorm(x, model_.output_norm()), nullptr);
  }

 private:
  std::vector<double> Rows(const TensorView& t, int64_t row) const {
    std::vector<float> f(static_cast<size_t>(t.cols()));
    t.DequantizeRows(row, 1, f.data());
    return std::vector<double>(f.begin(), f.end());
  }
  const std::vector<float>& Dense(const TensorView& t) {
    std::vector<float>& d = dense_[&t];
    if (d.empty()) {
      d.resize(static_cast<size_t>(t.num_elements()));
      t.DequantizeRows(0, t.rows(), d.data());
    }
    return d;
  }
  std::vector<double> MatVec(const TensorView& w, const std::vector<double>& x,
                             const TensorView* bias) {
    const std::vector<float>& d = Dense(w);
    std::vector<double> y(static_cast<size_t>(w.rows()));
    const std::vector<float>* b = bias != nullptr ? &Dense(*bias) : nullptr;
    for (int64_t r = 0; r < w.rows(); ++r) {
      double acc = b != nullptr ? (*b)[static_cast<size_t>(r)] : 0;
      for (int64_t c = 0; c < w.cols(); ++c) acc += d[static_cast<size_t>(r * w.cols() + c)] * x[c];
      y[static_cast<size_t>(r)] = acc;
    }
    return y;
  }
  std::vector<double> RmsNorm(const std::vector<double>& x, const TensorView& weight) {
    const std::vector<float>& w = Dense(weight);
    double ss = 0;
    for (double v : x) ss += v * v;
    const double scale = 1 / std::sqrt(ss / static_cast<double>(x.size()) + c_.rms_norm_eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * scale * w[i];
    return y;
  }
  void Rope(std::vector<double>& v, int position) const {
    const size_t hd = static_cast<size_t>(c_.head_dim), half = hd / 2;
    for (size_t head = 0; head < v.size() / hd; ++head) {
      for (size_t i = 0; i < half; ++i) {
        const double angle = position * inv_freq_[i];
        const double a = v[head * hd + i], b = v[head * hd + i + half];
        v[head * hd + i] = a * std::cos(angle) - b * std::sin(angle);
        v[head * hd + i + half] = b * std::cos(angle) + a * std::sin(angle);
      }
    }
  }

  const Model& model_;
  const ModelConfig& c_;
  std::vector<double> inv_freq_;
  std::vector<std::vector<std::vector<double>>> keys_, values_;  // [layer][position][kv_dim]
  std::map<const TensorView*, std::vector<float>> dense_;
};

class ModelRunnerTest : public ::testing::TestWithParam<Architecture> {};

// The runner returns the logits of a chunk's last row, so the prompt goes in one position at a
// time (decode-shaped passes reading the paged cache), each compared with the reference.
TEST_P(ModelRunnerTest, MatchesReferenceForward) {
  const std::string dir = TestDir("runner_ref");
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    const std::string name(DTypeName(dtype));
    absl::StatusOr<std::shared_ptr<const Model>> model =
        WriteAndLoad(TinyConfig(GetParam()), dtype, dir + "/" + name + ".gguf");
    ASSERT_TRUE(model.ok()) << model.status();
    ReferenceModel reference(**model);
    Rig rig = MakeRig(**model);
    const std::vector<int32_t> prompt = Prompt(70, 3);  // past original_max_position (64)
    const std::vector<int32_t> table = Blocks(0, 20);
    const size_t vocab = static_cast<size_t>((*model)->config().vocab_size);
    double worst = 0;
    for (size_t p = 0; p < prompt.size(); ++p) {
      const std::vector<double> expected = reference.Step(prompt[p]);
      const SequenceChunk chunk{{&prompt[p], 1}, static_cast<int32_t>(p), table, true};
      absl::StatusOr<std::span<float>> logits = rig.runner->Forward({&chunk, 1});
      ASSERT_TRUE(logits.ok()) << logits.status();
      worst = std::max(worst, RelativeError(Row(*logits, 0, vocab),
                                            std::vector<float>(expected.begin(), expected.end())));
    }
    // Weights in their stored dtype, activations and cache in F32: float rounding over sums of
    // 64-128 products through two layers stays near 2e-7 of the logits' scale, whatever the
    // weight dtype (the reference uses the same dequantized values); a wrong op is off by O(1).
    // Q8_0 is the exception: the CPU backend quantizes the activations to 8-bit blocks for its
    // integer dot products, as ggml does, which costs about 1% (measured 1.1e-2).
    const double tolerance = dtype == DType::kQ8_0 ? 3e-2 : 1e-5;
    EXPECT_LT(worst, tolerance) << name;
    RecordProperty("max_relative_error_" + name, absl::StrCat(worst));
  }
}

// A sequence's logits do not depend on what else is in the batch or where its KV blocks are.
TEST_P(ModelRunnerTest, BatchedEqualsUnbatched) {
  const std::string dir = TestDir("runner_batch");
  absl::StatusOr<std::shared_ptr<const Model>> model =
      WriteAndLoad(TinyConfig(GetParam()), DType::kF16, dir + "/m");
  ASSERT_TRUE(model.ok()) << model.status();
  const size_t vocab = static_cast<size_t>((*model)->config().vocab_size);
  const std::vector<int32_t> a = Prompt(13, 1), b = Prompt(6, 2), c = Prompt(9, 3);
  const std::vector<float> alone_a = OneShot(**model, a);
  const std::vector<float> alone_b = OneShot(**model, b);

  // c's first 8 tokens go in first; then one batch: b (prefill), c's 9th token (a decode), a.
  Rig rig = MakeRig(**model);
  const std::vector<int32_t> table_a = Blocks(40, 4), table_b = Blocks(7, 2);
  const std::vector<int32_t> table_c = {90, 3, 61};
  const SequenceChunk c_prefix{{c.data(), 8}, 0, table_c, false};
  ASSERT_TRUE(rig.runner->Forward({&c_prefix, 1}).ok());
  const std::vector<SequenceChunk> batch = {
      {b, 0, table_b, true}, {{c.data() + 8, 1}, 8, table_c, true}, {a, 0, table_a, true}};
  absl::StatusOr<std::span<float>> logits = rig.runner->Forward(batch);
  ASSERT_TRUE(logits.ok()) << logits.status();
  const std::vector<float> alone_c = OneShot(**model, c);
  const double err_b = RelativeError(Row(*logits, 0, vocab), alone_b);
  const double err_c = RelativeError(Row(*logits, 1, vocab), alone_c);
  const double err_a = RelativeError(Row(*logits, 2, vocab), alone_a);
  // The backend may block a matmul differently for a different number of rows; anything beyond
  // float rounding would be a bug (rows mixed up, wrong blocks or positions).
  EXPECT_LT(err_a, 1e-5);
  EXPECT_LT(err_b, 1e-5);
  EXPECT_LT(err_c, 1e-5);
  RecordProperty("max_relative_error", absl::StrCat(std::max({err_a, err_b, err_c})));
}

// A prompt computed in chunks (as the scheduler splits it under its token budget) gives the
// logits of the prompt computed at once.
TEST_P(ModelRunnerTest, ChunkedPrefillEqualsOneShot) {
  const std::string dir = TestDir("runner_chunk");
  absl::StatusOr<std::shared_ptr<const Model>> model =
      WriteAndLoad(TinyConfig(GetParam()), DType::kF32, dir + "/m.gguf");
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<int32_t> prompt = Prompt(41, 5);
  const std::vector<float> one_shot = OneShot(**model, prompt);
  Rig rig = MakeRig(**model);
  const std::vector<int32_t> table = Blocks(3, 11);
  std::vector<float> chunked;
  // Chunks of 16, 14, 7 and 4 tokens: boundaries on and inside blocks.
  for (auto [start, end] : {std::pair{0, 16}, {16, 30}, {30, 37}, {37, 41}}) {
    const SequenceChunk chunk{
        {prompt.data() + start, static_cast<size_t>(end - start)}, start, table, end == 41};
    absl::StatusOr<std::span<float>> logits = rig.runner->Forward({&chunk, 1});
    ASSERT_TRUE(logits.ok()) << logits.status();
    if (end == 41) chunked.assign(logits->begin(), logits->end());
  }
  EXPECT_LT(RelativeError(chunked, one_shot), 1e-5);
}

// The same weights written as safetensors and as GGUF give the same logits: the loaders agree on
// the canonical layout (GGUF Llama's interleaved q/k rows, rope_freqs, norms kept in F32...).
TEST_P(ModelRunnerTest, SafetensorsAndGgufGiveTheSameLogits) {
  const std::string dir = TestDir("runner_formats");
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    const std::string name = std::string(DTypeName(dtype));
    absl::StatusOr<std::shared_ptr<const Model>> hf =
        WriteAndLoad(TinyConfig(GetParam()), dtype, dir + "/" + name);
    absl::StatusOr<std::shared_ptr<const Model>> gguf =
        WriteAndLoad(TinyConfig(GetParam()), dtype, dir + "/" + name + ".gguf");
    ASSERT_TRUE(hf.ok()) << hf.status();
    ASSERT_TRUE(gguf.ok()) << gguf.status();
    // GGUF keeps 1-D tensors (norms, biases) in F32, as llama.cpp's converter does, so only
    // all-F32 files hold the same canonical bytes.
    if (dtype == DType::kF32) {
      EXPECT_EQ((*hf)->fingerprint(), (*gguf)->fingerprint());
    }
    const std::vector<int32_t> prompt = Prompt(23, 7);
    const std::vector<float> from_hf = OneShot(**hf, prompt);
    const std::vector<float> from_gguf = OneShot(**gguf, prompt);
    // Same values, same kernels: equal up to the order a kernel may visit unaligned data in.
    EXPECT_LT(RelativeError(from_hf, from_gguf), 1e-6) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, ModelRunnerTest,
                         ::testing::Values(Architecture::kQwen2, Architecture::kLlama3),
                         [](const auto& info) {
                           return std::string(ArchitectureName(info.param));
                         });

TEST(ModelRunnerErrorsTest, RejectsBadBatches) {
  const std::string dir = TestDir("runner_errors");
  absl::StatusOr<std::shared_ptr<const Model>> model =
      WriteAndLoad(TinyConfig(Architecture::kQwen2), DType::kF32, dir + "/m.gguf");
  ASSERT_TRUE(model.ok()) << model.status();
  Rig rig = MakeRig(**model);
  const std::vector<int32_t> ids = {5, 6, 7, 8, 9};
  const std::vector<int32_t> short_table = {0};
  const SequenceChunk too_few_blocks{ids, 0, short_table, true};
  EXPECT_EQ(rig.runner->Forward({&too_few_blocks, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int32_t> bad_ids = {5, 512};
  const std::vector<int32_t> table = {0, 1};
  const SequenceChunk bad_token{bad_ids, 0, table, true};
  EXPECT_EQ(rig.runner->Forward({&bad_token, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int32_t> bad_table = {0, kNumBlocks};
  const SequenceChunk bad_block{ids, 0, bad_table, true};
  EXPECT_EQ(rig.runner->Forward({&bad_block, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int32_t> many(129, 3);
  const std::vector<int32_t> big_table = Blocks(0, 40);
  const SequenceChunk too_long{many, 0, big_table, true};
  EXPECT_EQ(rig.runner->Forward({&too_long, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace r1serve::engine
