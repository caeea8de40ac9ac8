// The model loaders against models written by random_model (both formats, every dtype, both
// architectures), llama.cpp's GGUF layout reproduced independently, and every error case.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/engine/format/architecture.h"
#include "lib/engine/format/model.h"
#include "lib/engine/format/random_model.h"
#include "nlohmann/json.hpp"

namespace r1serve::engine {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string TempPath(const std::string& name) {
  return testing::TempDir() + "/model_loader_test_" + std::to_string(::getpid()) + "_" + name;
}

std::string Msg(const absl::Status& status) { return std::string(status.message()); }

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

ModelConfig TinyConfig(Architecture architecture) {
  ModelConfig c;
  c.architecture = architecture;
  c.vocab_size = 96;
  c.hidden_size = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.intermediate_size = 96;
  c.max_position_embeddings = 256;
  c.rms_norm_eps = 1e-5;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  if (architecture == Architecture::kLlama3) {
    // original_max 64 puts this head size's frequencies in all three llama3 bands.
    c.rope_theta = 500000.0;
    c.rope_scaling = {RopeScalingType::kLlama3, 8.0, 1.0, 4.0, 64};
  }
  return c;
}

RandomModelOptions Options(Architecture architecture, DType dtype) {
  RandomModelOptions options;
  options.config = TinyConfig(architecture);
  options.dtype = dtype;
  options.seed = 5;
  return options;
}

struct Written {
  std::string hf;
  std::string gguf;
};

Written WriteBoth(const RandomModelOptions& options, const std::string& name) {
  Written w{TempPath(name), TempPath(name + ".gguf")};
  std::filesystem::remove_all(w.hf);
  EXPECT_TRUE(WriteHfModel(options, nullptr, w.hf).ok());
  EXPECT_TRUE(WriteGgufModel(options, nullptr, w.gguf).ok());
  return w;
}

std::unique_ptr<Model> MustLoad(const std::string& path) {
  auto model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

std::vector<float> Values(const TensorView& t) {
  std::vector<float> values(static_cast<size_t>(t.num_elements()));
  t.DequantizeRows(0, t.rows(), values.data());
  return values;
}

void ExpectSameConfig(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(static_cast<float>(a.rms_norm_eps), static_cast<float>(b.rms_norm_eps));
  EXPECT_EQ(static_cast<float>(a.rope_theta), static_cast<float>(b.rope_theta));
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_EQ(a.rope_freq_factors, b.rope_freq_factors);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_id, b.eos_token_id);
}

struct Variant {
  Architecture architecture;
  bool tie;
  bool bias;
};

class BothFormatsTest : public testing::TestWithParam<Variant> {
 protected:
  RandomModelOptions VariantOptions(DType dtype) {
    RandomModelOptions options = Options(GetParam().architecture, dtype);
    options.config.tie_word_embeddings = GetParam().tie;
    options.config.attention_bias = GetParam().bias;
    options.output_scale = 4.0;
    return options;
  }
  std::string Name(const std::string& what) {
    return absl::StrCat(what, "_", ArchitectureName(GetParam().architecture),
                        GetParam().tie ? "_tie" : "", GetParam().bias ? "_bias" : "");
  }
};

// F32: every canonical tensor is bit-identical across formats (the GGUF reader undid Llama's
// interleaving), so the fingerprints agree too.
TEST_P(BothFormatsTest, F32IsBitIdentical) {
  const Written w = WriteBoth(VariantOptions(DType::kF32), Name("f32"));
  auto hf = MustLoad(w.hf);
  auto gguf = MustLoad(w.gguf);
  ASSERT_TRUE(hf && gguf);
  EXPECT_EQ(hf->format(), ModelFormat::kHuggingFace);
  EXPECT_EQ(gguf->format(), ModelFormat::kGguf);
  ExpectSameConfig(hf->config(), gguf->config());
  ASSERT_EQ(hf->tensors().size(), gguf->tensors().size());
  for (size_t i = 0; i < hf->tensors().size(); ++i) {
    const TensorView& a = hf->tensors()[i];
    const TensorView& b = gguf->tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.shape, b.shape);
    ASSERT_EQ(a.size_bytes, b.size_bytes) << a.name;
    EXPECT_EQ(std::memcmp(a.data, b.data, static_cast<size_t>(a.size_bytes)), 0) << a.name;
  }
  EXPECT_EQ(hf->fingerprint(), gguf->fingerprint());
  EXPECT_EQ(hf->fingerprint().size(), 64u);
  EXPECT_EQ(hf->weight_bytes(), gguf->weight_bytes());
  EXPECT_EQ(&hf->output() == &hf->token_embd(), GetParam().tie);
  EXPECT_EQ(gguf->layer(1).bq != nullptr,
            GetParam().bias || GetParam().architecture == Architecture::kQwen2);
}

// F16 / BF16: llama.cpp keeps 1-D tensors F32, so dtypes differ but values are equal.
TEST_P(BothFormatsTest, HalfTypesHoldEqualValues) {
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    const Written w = WriteBoth(VariantOptions(dtype), Name(std::string(DTypeName(dtype))));
    auto hf = MustLoad(w.hf);
    auto gguf = MustLoad(w.gguf);
    ASSERT_TRUE(hf && gguf);
    for (size_t i = 0; i < hf->tensors().size(); ++i) {
      const TensorView& a = hf->tensors()[i];
      const TensorView& b = gguf->tensors()[i];
      EXPECT_EQ(a.dtype, dtype);
      EXPECT_EQ(b.dtype, b.shape.size() == 1 ? DType::kF32 : dtype) << b.name;
      EXPECT_EQ(Values(a), Values(b)) << a.name;
    }
    EXPECT_NE(hf->fingerprint(), gguf->fingerprint());  // the stored dtypes differ
  }
}

// Q8_0: each value within the block's quantization step of the F16 original.
TEST_P(BothFormatsTest, Q8_0IsWithinQuantizationTolerance) {
  const Written w = WriteBoth(VariantOptions(DType::kQ8_0), Name("q8"));
  auto hf = MustLoad(w.hf);
  auto gguf = MustLoad(w.gguf);
  ASSERT_TRUE(hf && gguf);
  for (size_t i = 0; i < hf->tensors().size(); ++i) {
    const TensorView& a = hf->tensors()[i];
    const TensorView& b = gguf->tensors()[i];
    EXPECT_EQ(a.dtype, DType::kF16);
    const std::vector<float> original = Values(a);
    const std::vector<float> quantized = Values(b);
    if (b.shape.size() == 1) {
      EXPECT_EQ(b.dtype, DType::kF32);
      EXPECT_EQ(original, quantized) << a.name;
      continue;
    }
    EXPECT_EQ(b.dtype, DType::kQ8_0) << b.name;
    for (size_t block = 0; block < original.size() / 32; ++block) {
      float amax = 0;
      for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(original[block * 32 + j]));
      // Half a step, plus the step's own fp16 rounding times the largest quant.
      const float tolerance = 0.5f * amax / 127 + amax * 0x1p-11f + 1e-12f;
      for (size_t j = 0; j < 32; ++j) {
        ASSERT_NEAR(quantized[block * 32 + j], original[block * 32 + j], tolerance) << a.name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, BothFormatsTest,
                         testing::Values(Variant{Architecture::kQwen2, false, true},
                                         Variant{Architecture::kQwen2, true, true},
                                         Variant{Architecture::kLlama3, false, false},
                                         Variant{Architecture::kLlama3, true, true}));

// llama.cpp's convert_hf_to_gguf.py LlamaModel.permute, transcribed independently of
// architecture.cc: w.reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2).reshape(w.shape).
std::vector<float> LlamaCppPermute(const std::vector<float>& w, int64_t n_head, int64_t rows,
                                   int64_t cols) {
  const int64_t half = rows / n_head / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        // out[h][i][j][:] = in[h][j][i][:]
        const int64_t out_row = (h * half + i) * 2 + j;
        const int64_t in_row = (h * 2 + j) * half + i;
        std::copy_n(&w[in_row * cols], cols, &out[out_row * cols]);
      }
    }
  }
  return out;
}

std::vector<float> StoredValues(const GgufFile& file, const std::string& name) {
  const GgufTensorInfo* t = file.FindTensor(name);
  TensorView view{name, *t->dtype, t->shape, t->data, t->size_bytes};
  return Values(view);
}

TEST(GgufLayoutTest, LlamaQkAreStoredAsLlamaCppConverts) {
  RandomModelOptions options = Options(Architecture::kLlama3, DType::kF32);
  options.config.attention_bias = true;
  const Written w = WriteBoth(options, "layout_llama");
  auto hf = MustLoad(w.hf);
  auto raw = GgufFile::Open(w.gguf);
  ASSERT_TRUE(hf && raw.ok());
  const ModelConfig& c = hf->config();
  for (const auto& [canonical, gguf_name, heads] :
       {std::tuple<std::string, std::string, int64_t>{"blk.1.wq", "blk.1.attn_q.weight",
                                                      c.num_heads},
        {"blk.1.wk", "blk.1.attn_k.weight", c.num_kv_heads},
        {"blk.0.bq", "blk.0.attn_q.bias", c.num_heads},
        {"blk.0.bk", "blk.0.attn_k.bias", c.num_kv_heads}}) {
    const TensorView* t = hf->FindTensor(canonical);
    ASSERT_NE(t, nullptr) << canonical;
    const int64_t rows = t->shape[0];
    const int64_t cols = t->shape.size() == 2 ? t->shape[1] : 1;
    EXPECT_EQ(StoredValues(**raw, gguf_name), LlamaCppPermute(Values(*t), heads, rows, cols))
        << canonical;
  }
  // v is not roped, hence not permuted.
  EXPECT_EQ(StoredValues(**raw, "blk.0.attn_v.weight"), Values(*hf->FindTensor("blk.0.wv")));
}

TEST(GgufLayoutTest, Qwen2IsStoredUnpermuted) {
  const Written w = WriteBoth(Options(Architecture::kQwen2, DType::kF32), "layout_qwen");
  auto hf = MustLoad(w.hf);
  auto raw = GgufFile::Open(w.gguf);
  ASSERT_TRUE(hf && raw.ok());
  EXPECT_EQ(StoredValues(**raw, "blk.0.attn_q.weight"), Values(*hf->FindTensor("blk.0.wq")));
  EXPECT_EQ(StoredValues(**raw, "blk.0.attn_k.bias"), Values(*hf->FindTensor("blk.0.bk")));
  EXPECT_EQ((*raw)->FindTensor("rope_freqs.weight"), nullptr);
}

// Why the layouts agree: NEOX rope (pairs i, i + d/2) on the canonical projection equals
// llama.cpp's NORM rope (pairs 2i, 2i + 1) on the GGUF-stored projection, row for row through
// the interleaving, so attention scores are identical.
TEST(GgufLayoutTest, NeoxRopeOnCanonicalEqualsNormRopeOnStored) {
  const Written w = WriteBoth(Options(Architecture::kLlama3, DType::kF32), "rope_llama");
  auto hf = MustLoad(w.hf);
  auto raw = GgufFile::Open(w.gguf);
  ASSERT_TRUE(hf && raw.ok());
  const ModelConfig& c = hf->config();
  const int64_t d = c.head_dim;
  const std::vector<float> inv_freq = c.RopeInverseFrequencies();
  std::vector<float> x(static_cast<size_t>(c.hidden_size));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i) + 0.1f);
  const auto project = [&](const std::vector<float>& w_values, int64_t rows) {
    std::vector<double> y(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < c.hidden_size; ++k)
        y[r] += double{w_values[r * c.hidden_size + k]} * x[k];
    }
    return y;
  };
  const int64_t position = 37;
  const auto rope = [&](std::vector<double> y, bool neox) {
    for (int64_t head = 0; head < static_cast<int64_t>(y.size()) / d; ++head) {
      double* h = &y[head * d];
      for (int64_t i = 0; i < d / 2; ++i) {
        const double angle = position * double{inv_freq[i]};
        const int64_t a = neox ? i : 2 * i;
        const int64_t b = neox ? i + d / 2 : 2 * i + 1;
        const double ya = h[a], yb = h[b];
        h[a] = ya * std::cos(angle) - yb * std::sin(angle);
        h[b] = yb * std::cos(angle) + ya * std::sin(angle);
      }
    }
    return y;
  };
  const std::vector<double> q_canonical =
      rope(project(Values(*hf->FindTensor("blk.0.wq")), c.q_dim()), true);
  const std::vector<double> k_canonical =
      rope(project(Values(*hf->FindTensor("blk.0.wk")), c.kv_dim()), true);
  const std::vector<double> q_stored =
      rope(project(StoredValues(**raw, "blk.0.attn_q.weight"), c.q_dim()), false);
  const std::vector<double> k_stored =
      rope(project(StoredValues(**raw, "blk.0.attn_k.weight"), c.kv_dim()), false);
  for (int64_t g = 0; g < c.q_dim(); ++g) {
    EXPECT_NEAR(q_stored[g], q_canonical[GgufRowToCanonicalRow(g, d)], 1e-9) << g;
  }
  // The attention score of query head 0 with kv head 0.
  double score_canonical = 0, score_stored = 0;
  for (int64_t i = 0; i < d; ++i) {
    score_canonical += q_canonical[i] * k_canonical[i];
    score_stored += q_stored[i] * k_stored[i];
  }
  EXPECT_NEAR(score_canonical, score_stored, 1e-9);
}

TEST(RopeFactorsTest, Llama3FactorsSpanAllBands) {
  auto model = MustLoad(WriteBoth(Options(Architecture::kLlama3, DType::kF16), "factors").gguf);
  ASSERT_TRUE(model);
  const std::vector<float>& f = model->config().rope_freq_factors;
  ASSERT_EQ(f.size(), 8u);
  EXPECT_EQ(f[0], 1.0f);  // wavelength 6.3 < 64 / 4
  EXPECT_GT(f[1], 1.0f);  // wavelength 32: interpolated
  EXPECT_LT(f[1], 8.0f);
  EXPECT_EQ(f[7], 8.0f);  // long wavelengths: divided by the factor
  EXPECT_EQ(model->config().rope_scaling.type, RopeScalingType::kLlama3);
  const std::vector<float> inv = model->config().RopeInverseFrequencies();
  EXPECT_FLOAT_EQ(inv[7], static_cast<float>(std::pow(500000.0, -14.0 / 16) / 8));
}

TEST(FingerprintTest, ShardingDoesNotChangeIt) {
  RandomModelOptions options = Options(Architecture::kQwen2, DType::kF16);
  const std::string single = TempPath("single");
  const std::string sharded = TempPath("sharded");
  ASSERT_TRUE(WriteHfModel(options, nullptr, single).ok());
  options.shard_bytes = 20000;
  ASSERT_TRUE(WriteHfModel(options, nullptr, sharded).ok());
  EXPECT_TRUE(std::filesystem::exists(sharded + "/model.safetensors.index.json"));
  int shard_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(sharded)) {
    shard_files += entry.path().filename().string().rfind("model-0000", 0) == 0;
  }
  EXPECT_GT(shard_files, 2);
  auto a = MustLoad(single);
  auto b = MustLoad(sharded);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->fingerprint(), b->fingerprint());
  options.seed = 6;
  const std::string reseeded = TempPath("reseeded");
  ASSERT_TRUE(WriteHfModel(options, nullptr, reseeded).ok());
  auto c = MustLoad(reseeded);
  ASSERT_TRUE(c);
  EXPECT_NE(a->fingerprint(), c->fingerprint());
}

TEST(DeterminismTest, SameOptionsGiveIdenticalBytes) {
  for (DType dtype : {DType::kF16, DType::kQ8_0}) {
    RandomModelOptions options = Options(Architecture::kLlama3, dtype);
    options.shard_bytes = 30000;
    const Written first = WriteBoth(options, "det_a");
    options.threads = 1;  // the thread count must not matter
    const Written second = WriteBoth(options, "det_b");
    EXPECT_EQ(ReadText(first.gguf), ReadText(second.gguf));
    for (const auto& entry : std::filesystem::directory_iterator(first.hf)) {
      const std::string name = entry.path().filename();
      EXPECT_EQ(ReadText(entry.path()), ReadText(second.hf + "/" + name)) << name;
    }
  }
}

// --- Errors: Hugging Face folders ---------------------------------------------------------

class HfErrorsTest : public testing::Test {
 protected:
  void SetUp() override {
    RandomModelOptions options = Options(Architecture::kLlama3, DType::kF16);
    options.config.attention_bias = true;
    folder_ = TempPath(std::string("hf_errors_") +
                       testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(folder_);
    ASSERT_TRUE(WriteHfModel(options, nullptr, folder_).ok());
    config_ = Json::parse(ReadText(folder_ + "/config.json"));
  }
  absl::Status LoadWithConfig(const Json& config) {
    WriteText(folder_ + "/config.json", config.dump());
    return LoadModel(folder_).status();
  }

  std::string folder_;
  Json config_;
};

TEST_F(HfErrorsTest, UnsupportedArchitectureIsNamed) {
  config_["architectures"] = {"DeepseekV3ForCausalLM"};
  const absl::Status status = LoadWithConfig(config_);
  EXPECT_THAT(Msg(status), HasSubstr("unsupported architecture \"DeepseekV3ForCausalLM\""));
  EXPECT_THAT(Msg(status), HasSubstr("Qwen2ForCausalLM, LlamaForCausalLM"));
}

TEST_F(HfErrorsTest, MoreLayersThanWeightsIsAMissingTensor) {
  config_["num_hidden_layers"] = 3;
  EXPECT_THAT(
      Msg(LoadWithConfig(config_)),
      HasSubstr("tensor model.layers.2.input_layernorm.weight (blk.2.attn_norm) is missing"));
}

TEST_F(HfErrorsTest, FewerLayersThanWeightsIsAnUnexpectedTensor) {
  config_["num_hidden_layers"] = 1;
  const absl::Status status = LoadWithConfig(config_);
  EXPECT_THAT(Msg(status), HasSubstr("unexpected tensor model.layers.1."));
  EXPECT_THAT(Msg(status), HasSubstr("num_hidden_layers=1"));
}

TEST_F(HfErrorsTest, ShapeDisagreementNamesTensorExpectedAndActual) {
  config_["intermediate_size"] = 64;
  EXPECT_THAT(
      Msg(LoadWithConfig(config_)),
      HasSubstr("tensor model.layers.0.mlp.gate_proj.weight has shape [96, 64] but config.json "
                "implies [64, 64]"));
}

TEST_F(HfErrorsTest, BiasesTheConfigRulesOut) {
  config_["attention_bias"] = false;
  EXPECT_THAT(Msg(LoadWithConfig(config_)), HasSubstr("rules out attention bias"));
}

TEST_F(HfErrorsTest, BadConfigValues) {
  Json c = config_;
  c["hidden_size"] = "64";
  EXPECT_THAT(Msg(LoadWithConfig(c)), HasSubstr("\"hidden_size\" must be an integer"));
  c = config_;
  c.erase("num_attention_heads");
  EXPECT_THAT(Msg(LoadWithConfig(c)), HasSubstr("\"num_attention_heads\" is missing"));
  c = config_;
  c["num_key_value_heads"] = 3;
  EXPECT_THAT(Msg(LoadWithConfig(c)), HasSubstr("multiple of num_kv_heads"));
  c = config_;
  c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_THAT(Msg(LoadWithConfig(c)), HasSubstr("rope_scaling type \"yarn\" is not supported"));
  c = config_;
  c["hidden_act"] = "gelu";
  EXPECT_THAT(Msg(LoadWithConfig(c)), HasSubstr("hidden_act"));
  WriteText(folder_ + "/config.json", "{not json");
  EXPECT_THAT(Msg(LoadModel(folder_).status()), HasSubstr("config.json: is not a JSON object"));
  std::filesystem::remove(folder_ + "/config.json");
  EXPECT_TRUE(absl::IsNotFound(LoadModel(folder_).status()));
}

TEST_F(HfErrorsTest, MissingWeights) {
  std::filesystem::remove(folder_ + "/model.safetensors");
  const absl::Status status = LoadModel(folder_).status();
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_THAT(Msg(status), HasSubstr("no model.safetensors"));
}

TEST_F(HfErrorsTest, UnsupportedDTypeIsNamed) {
  std::string bytes = ReadText(folder_ + "/model.safetensors");
  const size_t at =
      bytes.find("{\"dtype\":\"F16\"", bytes.find("model.layers.0.mlp.up_proj.weight"));
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at + 10, 3, "I16");  // same element size, so only the dtype is wrong
  WriteText(folder_ + "/model.safetensors", bytes);
  EXPECT_THAT(
      Msg(LoadModel(folder_).status()),
      HasSubstr(
          "tensor model.layers.0.mlp.up_proj.weight has dtype I16; supported: F32, F16, BF16"));
}

TEST_F(HfErrorsTest, TruncatedWeightsAreErrors) {
  const std::string path = folder_ + "/model.safetensors";
  const std::string bytes = ReadText(path);
  for (size_t size = bytes.size() - 1; size > 0; size -= std::max<size_t>(1, size / 97)) {
    ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size)), 0);
    const absl::Status status = LoadModel(folder_).status();
    ASSERT_FALSE(status.ok()) << size;
    EXPECT_THAT(Msg(status), HasSubstr("model.safetensors"));
  }
}

TEST_F(HfErrorsTest, FlippedHeaderBytesNeverCrash) {
  const std::string path = folder_ + "/model.safetensors";
  std::string bytes = ReadText(path);
  uint64_t header;
  std::memcpy(&header, bytes.data(), 8);
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  for (size_t i = 0; i < 8 + header; i += 3) {
    const char flipped = static_cast<char>(bytes[i] ^ 0x5a);
    ASSERT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(i)), 1);
    (void)LoadModel(folder_);  // ok or an error; the point is that it returns
    ASSERT_EQ(::pwrite(fd, &bytes[i], 1, static_cast<off_t>(i)), 1);
  }
  ::close(fd);
  EXPECT_TRUE(LoadModel(folder_).ok());
}

// --- Errors: GGUF files -------------------------------------------------------------------

class GgufErrorsTest : public testing::Test {
 protected:
  void SetUp() override {
    path_ = TempPath(std::string("gguf_errors_") +
                     testing::UnitTest::GetInstance()->current_test_info()->name() + ".gguf");
    ASSERT_TRUE(WriteGgufModel(Options(Architecture::kQwen2, DType::kQ8_0), nullptr, path_).ok());
    bytes_ = ReadText(path_);
  }
  // The offset of a metadata key's value (after its u32 type).
  size_t ValueOffset(const std::string& key) {
    const size_t at = bytes_.find(key);
    EXPECT_NE(at, std::string::npos) << key;
    return at + key.size() + 4;
  }
  absl::Status LoadPatched(size_t offset, const std::string& replacement) {
    std::string patched = bytes_;
    patched.replace(offset, replacement.size(), replacement);
    WriteText(path_, patched);
    return LoadModel(path_).status();
  }
  static std::string U32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

  std::string path_;
  std::string bytes_;
};

TEST_F(GgufErrorsTest, UnsupportedArchitectureIsNamed) {
  const absl::Status status = LoadPatched(ValueOffset("general.architecture") + 8, "qwen3");
  EXPECT_THAT(Msg(status),
              HasSubstr("unsupported architecture \"qwen3\" (supported: qwen2, llama)"));
}

TEST_F(GgufErrorsTest, BlockCountDisagreesWithTensors) {
  EXPECT_THAT(Msg(LoadPatched(ValueOffset("qwen2.block_count"), U32(3))),
              HasSubstr("tensor blk.2.attn_norm.weight (blk.2.attn_norm) is missing"));
  EXPECT_THAT(Msg(LoadPatched(ValueOffset("qwen2.block_count"), U32(1))),
              HasSubstr("unexpected tensor blk.1."));
}

TEST_F(GgufErrorsTest, ShapeDisagreementNamesTensorExpectedAndActual) {
  EXPECT_THAT(Msg(LoadPatched(ValueOffset("qwen2.feed_forward_length"), U32(64))),
              HasSubstr("tensor blk.0.ffn_gate.weight has shape [96, 64] (outermost first) but the "
                        "metadata implies [64, 64]"));
}

TEST_F(GgufErrorsTest, MissingRequiredKey) {
  // Renaming the key hides it: the rms epsilon is required.
  const size_t at = bytes_.find("qwen2.attention.layer_norm_rms_epsilon");
  EXPECT_THAT(Msg(LoadPatched(at, "qwen2.attention.layer_norm_rms_epsiloN")),
              HasSubstr("\"qwen2.attention.layer_norm_rms_epsilon\" (rms_norm_eps) is missing"));
}

TEST_F(GgufErrorsTest, UnsupportedTensorTypeIsNamed) {
  const std::string name = "blk.0.ffn_up.weight";
  const size_t type_at = bytes_.find(name) + name.size() + 4 + 16;
  ASSERT_EQ(bytes_[type_at], 8);  // Q8_0
  EXPECT_THAT(
      Msg(LoadPatched(type_at, U32(12))),
      HasSubstr("tensor blk.0.ffn_up.weight has type Q4_K; supported: F32, F16, BF16, Q8_0"));
}

TEST_F(GgufErrorsTest, TruncationsAreErrors) {
  auto full = GgufFile::Open(path_);
  ASSERT_TRUE(full.ok());
  const GgufTensorInfo& last = (*full)->tensors().back();
  const size_t end_of_data =
      (*full)->data_offset() + last.offset + static_cast<size_t>(last.size_bytes);
  full->reset();
  for (size_t size = bytes_.size() - 1; size > 0; size -= std::max<size_t>(1, size / 211)) {
    ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(size)), 0);
    const absl::Status status = LoadModel(path_).status();
    if (size >= end_of_data) continue;  // only trailing padding removed
    ASSERT_FALSE(status.ok()) << size;
    EXPECT_THAT(Msg(status), HasSubstr(path_));
  }
}

TEST_F(GgufErrorsTest, FlippedHeaderBytesNeverCrash) {
  auto full = GgufFile::Open(path_);
  ASSERT_TRUE(full.ok());
  const size_t header = (*full)->data_offset();
  full->reset();
  const int fd = ::open(path_.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  for (size_t i = 0; i < header; ++i) {
    const char flipped = static_cast<char>(bytes_[i] ^ (i % 2 ? 0xff : 0x10));
    ASSERT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(i)), 1);
    (void)LoadModel(path_);
    ASSERT_EQ(::pwrite(fd, &bytes_[i], 1, static_cast<off_t>(i)), 1);
  }
  ::close(fd);
  EXPECT_TRUE(LoadModel(path_).ok());
}

TEST(LoadModelTest, MissingPathIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(LoadModel(TempPath("nothing_here")).status()));
  const std::string empty = TempPath("empty.gguf");
  WriteText(empty, "");
  EXPECT_THAT(Msg(LoadModel(empty).status()), HasSubstr("file is empty"));
}

}  // namespace
}  // namespace r1serve::engine
