#include "lib/text/bpe_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lib/text/byte_level.h"

namespace r1serve::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The 256 byte-level tokens with id = byte value, then `extra` tokens from id 256.
std::vector<std::pair<std::string, TokenId>> ByteVocab(const std::vector<std::string>& extra) {
  std::vector<std::pair<std::string, TokenId>> vocab;
  for (int b = 0; b < 256; ++b) {
    std::string token;
    AppendByteLevel(std::string(1, static_cast<char>(b)), &token);
    vocab.emplace_back(token, b);
  }
  for (const std::string& token : extra) vocab.emplace_back(token, vocab.size());
  return vocab;
}

TEST(BpeModelTest, LowestRankFirstLeftmostOnTies) {
  auto model = BpeModel::Create(ByteVocab({"aa", "ab", "aab"}),
                                {{"a", "a"}, {"a", "b"}, {"aa", "b"}}, false);
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<TokenId> ids;
  (*model)->Tokenize("aaa", &ids);  // (a a) merges at the left first
  EXPECT_THAT(ids, ElementsAre(256, 'a'));
  ids.clear();
  (*model)->Tokenize("aab", &ids);  // a a (rank 0) before a b (rank 1), then aa b
  EXPECT_THAT(ids, ElementsAre(258));
  ids.clear();
  (*model)->Tokenize("ab ", &ids);  // pre-tokens arrive as raw bytes; ' ' is 'Ġ' = id 32
  EXPECT_THAT(ids, ElementsAre(257, ' '));
  EXPECT_EQ((*model)->TokenToId("aab"), 258);
  EXPECT_EQ((*model)->IdToToken(32), "\u0120");
  EXPECT_EQ((*model)->IdEnd(), 259);
}

TEST(BpeModelTest, IgnoreMergesTakesWholeVocabularyWords) {
  // "abc" is in the vocabulary but no merge builds it.
  auto vocab = ByteVocab({"ab", "abc"});
  auto plain = BpeModel::Create(vocab, {{"a", "b"}}, false);
  auto ignoring = BpeModel::Create(vocab, {{"a", "b"}}, true);
  ASSERT_TRUE(plain.ok() && ignoring.ok());
  std::vector<TokenId> a, b;
  (*plain)->Tokenize("abc", &a);
  (*ignoring)->Tokenize("abc", &b);
  EXPECT_THAT(a, ElementsAre(256, 'c'));
  EXPECT_THAT(b, ElementsAre(257));
}

// Textbook BPE on token strings: merge the lowest-ranked adjacent pair, leftmost first.
std::vector<std::string> ReferenceBpe(
    const std::string& word, const std::map<std::pair<std::string, std::string>, int>& rank) {
  std::vector<std::string> symbols;
  for (char c : word) symbols.emplace_back(1, c);
  while (symbols.size() > 1) {
    int best = -1, best_rank = 1 << 30;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = rank.find({symbols[i], symbols[i + 1]});
      if (it != rank.end() && it->second < best_rank) {
        best = i;
        best_rank = it->second;
      }
    }
    if (best < 0) break;
    symbols[best] += symbols[best + 1];
    symbols.erase(symbols.begin() + best + 1);
  }
  return symbols;
}

TEST(BpeModelTest, MatchesTheTextbookAlgorithmOnShortAndLongWords) {
  // Random merges over {a, b, c}; words up to 150 bytes cross the short-word (48 bytes) and
  // cache (64 bytes) limits, so every merge path runs.
  std::mt19937 rng(11);
  std::vector<std::string> tokens = {"a", "b", "c"};
  std::vector<std::string> extra;
  std::vector<std::pair<std::string, std::string>> merges;
  std::map<std::pair<std::string, std::string>, int> rank;
  while (merges.size() < 300) {
    const std::string& l = tokens[rng() % tokens.size()];
    const std::string& r = tokens[rng() % tokens.size()];
    if (rank.count({l, r}) || l.size() + r.size() > 12) continue;
    rank[{l, r}] = merges.size();
    merges.emplace_back(l, r);
    const std::string joined = l + r;
    if (std::find(tokens.begin(), tokens.end(), joined) == tokens.end()) {
      tokens.push_back(joined);
      extra.push_back(joined);
    }
  }
  auto model = BpeModel::Create(ByteVocab(extra), merges, false);
  ASSERT_TRUE(model.ok()) << model.status();
  for (int i = 0; i < 2000; ++i) {
    std::string word;
    for (int n = 2 + rng() % 150; n > 0; --n) word += "abc"[rng() % 3];
    std::vector<TokenId> expected;
    for (const std::string& s : ReferenceBpe(word, rank))
      expected.push_back(*(*model)->TokenToId(s));
    for (int repeat = 0; repeat < 2; ++repeat) {  // the second time may come from the cache
      std::vector<TokenId> ids;
      (*model)->Tokenize(word, &ids);
      ASSERT_EQ(ids, expected) << word;
    }
  }
}

TEST(BpeModelTest, Errors) {
  auto no_bytes = BpeModel::Create({{"a", 0}}, {}, false);
  EXPECT_THAT(std::string(no_bytes.status().message()), HasSubstr("byte-level token"));
  auto unknown = BpeModel::Create(ByteVocab({}), {{"a", "zz"}}, false);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("model.merges[0]"));
  auto unmerged = BpeModel::Create(ByteVocab({}), {{"a", "b"}}, false);  // "ab" not in vocab
  EXPECT_THAT(std::string(unmerged.status().message()), HasSubstr("missing from model.vocab"));
  auto vocab = ByteVocab({});
  vocab.emplace_back("dup", 5);
  auto duplicate = BpeModel::Create(vocab, {}, false);
  EXPECT_THAT(std::string(duplicate.status().message()), HasSubstr("id 5 is used by both"));
}

TEST(BpeModelTest, IdsMustBeNearlyDense) {
  // The id tables are as large as the id space: 2147483647 used to overflow it, 1.5e9 to abort
  // on bad_alloc, 5e7 to take 590 MB.
  for (TokenId id : {2147483647, 1500000000, 50000000, 2 * 257 + 1024}) {
    auto vocab = ByteVocab({});
    vocab.emplace_back("far", id);
    auto model = BpeModel::Create(vocab, {}, false);
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << id;
    EXPECT_THAT(std::string(model.status().message()),
                HasSubstr("token \"far\" has id " + std::to_string(id)));
  }
  auto vocab = ByteVocab({});
  vocab.emplace_back("negative", -3);
  EXPECT_THAT(std::string(BpeModel::Create(vocab, {}, false).status().message()),
              HasSubstr("token \"negative\" has the negative id -3"));
  // Holes are fine up to the bound.
  vocab = ByteVocab({});
  vocab.emplace_back("sparse", 2 * 257 + 1023);
  auto model = BpeModel::Create(vocab, {}, false);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->IdEnd(), 2 * 257 + 1024);
  EXPECT_EQ((*model)->IdToToken(300), std::nullopt);
}

}  // namespace
}  // namespace r1serve::text
