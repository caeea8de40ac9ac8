#include "lib/text/added_vocabulary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace r1serve::text {
namespace {

// "text[begin,end)=id" per match, for readable expectations.
std::vector<std::string> Find(const AddedVocabulary& added, const std::string& text,
                              bool normalized = false) {
  std::vector<AddedVocabulary::Match> matches;
  added.Find(text, normalized, &matches);
  std::vector<std::string> out;
  for (const auto& m : matches) {
    out.push_back(text.substr(m.begin, m.end - m.begin) + "=" + std::to_string(m.id));
  }
  return out;
}

AddedVocabulary::Entry Token(TokenId id, std::string content) {
  AddedVocabulary::Entry e;
  e.id = id;
  e.content = std::move(content);
  return e;
}

std::string Identity(std::string_view s) { return std::string(s); }

TEST(AddedVocabularyTest, LeftmostThenLongest) {
  AddedVocabulary added({Token(1, "<a>"), Token(2, "<a><b>"), Token(3, "b><"), Token(4, "<b>")},
                        Identity);
  EXPECT_THAT(Find(added, "x<a><b>y<b><a>"), ::testing::ElementsAre("<a><b>=2", "<b>=4", "<a>=1"));
  EXPECT_THAT(Find(added, "<a"), ::testing::IsEmpty());
}

TEST(AddedVocabularyTest, Flags) {
  // Behaviour matched against HF tokenizers 0.22.2 with the same flags (a Qwen3 tokenizer.json
  // with extra added tokens, 3000 random strings).
  AddedVocabulary::Entry lstrip = Token(1, "<m>");
  lstrip.lstrip = true;
  AddedVocabulary::Entry rstrip = Token(2, "<r>");
  rstrip.rstrip = true;
  AddedVocabulary::Entry word = Token(3, "sw");
  word.single_word = true;
  AddedVocabulary added({lstrip, rstrip, word}, Identity);
  EXPECT_THAT(Find(added, "a  <m>  b"), ::testing::ElementsAre("  <m>=1"));
  EXPECT_THAT(Find(added, "a  <r> \n b"), ::testing::ElementsAre("<r> \n =2"));
  EXPECT_THAT(Find(added, "sw swx xsw sw."), ::testing::ElementsAre("sw=3", "sw=3"));
}

TEST(AddedVocabularyTest, NormalizedTokensAreSearchedSeparatelyAndSpelledNormalized) {
  AddedVocabulary::Entry n = Token(7, "ABC");
  n.normalized = true;
  AddedVocabulary added({Token(1, "<s>"), n}, [](std::string_view s) {
    std::string lower(s);
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    return lower;
  });
  EXPECT_TRUE(added.HasNormalizedTokens());
  EXPECT_THAT(Find(added, "abc<s>ABC"), ::testing::ElementsAre("<s>=1"));
  EXPECT_THAT(Find(added, "xabcABC", /*normalized=*/true), ::testing::ElementsAre("abc=7"));
}

}  // namespace
}  // namespace r1serve::text
