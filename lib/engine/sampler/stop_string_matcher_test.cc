// StopStringMatcher: stops spanning pieces, held-back text, overlapping prefixes, which stop wins,
// min_tokens gating, and a randomized comparison with a brute-force reference.
#include "lib/engine/sampler/stop_string_matcher.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace r1serve::engine {
namespace {

// Feeds `pieces`; returns the emitted text (as a client would receive it) and the final progress.
struct FeedResult {
  std::string emitted;
  StopStringMatcher::Progress progress;
};

FeedResult Feed(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopStringMatcher matcher(stops);
  std::string text;
  FeedResult run;
  for (const std::string& piece : pieces) {
    text += piece;
    run.progress = matcher.Append(piece);
    EXPECT_GE(run.progress.safe_end, run.emitted.size());  // never decreases
    run.emitted = text.substr(0, run.progress.safe_end);
    if (run.progress.stopped) break;
  }
  return run;
}

TEST(StopStringMatcherTest, NoStopStringsHoldNothingBack) {
  StopStringMatcher matcher({});
  EXPECT_EQ(matcher.Append("hello").safe_end, 5u);
  EXPECT_EQ(matcher.Append(" world").safe_end, 11u);
  EXPECT_FALSE(matcher.progress().stopped);
}

TEST(StopStringMatcherTest, StopInsideOnePieceCutsBeforeIt) {
  const FeedResult run = Feed({"STOP"}, {"abc STOP def"});
  EXPECT_TRUE(run.progress.stopped);
  EXPECT_EQ(run.progress.stop_index, 0);
  EXPECT_EQ(run.emitted, "abc ");
}

TEST(StopStringMatcherTest, StopSpanningPiecesIsHeldBackThenCut) {
  StopStringMatcher matcher(std::vector<std::string>{"</answer>"});
  EXPECT_EQ(matcher.Append("42 <").safe_end, 3u);  // "<" might begin the stop
  EXPECT_EQ(matcher.Append("/ans").safe_end, 3u);  // still might
  const StopStringMatcher::Progress p = matcher.Append("wer> tail");
  EXPECT_TRUE(p.stopped);
  EXPECT_EQ(p.safe_end, 3u);  // the text is "42 "
}

TEST(StopStringMatcherTest, HeldBackTextIsReleasedWhenTheMatchFails) {
  StopStringMatcher matcher(std::vector<std::string>{"</answer>"});
  EXPECT_EQ(matcher.Append("a</an").safe_end, 1u);
  EXPECT_EQ(matcher.Append("t").safe_end, 6u);
  EXPECT_FALSE(matcher.progress().stopped);
}

TEST(StopStringMatcherTest, OverlappingPrefixesAreNotMissed) {
  // A naive matcher that restarts after a mismatch misses "aab" in "aaab".
  const FeedResult run = Feed({"aab"}, {"a", "a", "a", "b", "c"});
  EXPECT_TRUE(run.progress.stopped);
  EXPECT_EQ(run.emitted, "a");
  const FeedResult abab = Feed({"abac"}, {"ab", "ab", "ac"});
  EXPECT_TRUE(abab.progress.stopped);
  EXPECT_EQ(abab.emitted, "ab");
}

TEST(StopStringMatcherTest, EarliestEndWinsThenLongest) {
  // "c" ends before "bcd" does.
  const FeedResult earliest = Feed({"bcd", "c"}, {"abcd"});
  EXPECT_EQ(earliest.progress.stop_index, 1);
  EXPECT_EQ(earliest.emitted, "ab");
  // Both end at the same byte: the longer one starts earlier and cuts more.
  const FeedResult longest = Feed({"bc", "abc"}, {"xab", "c"});
  EXPECT_EQ(longest.progress.stop_index, 1);
  EXPECT_EQ(longest.emitted, "x");
  // Duplicates report the first.
  EXPECT_EQ(Feed({"q", "q"}, {"aq"}).progress.stop_index, 0);
}

TEST(StopStringMatcherTest, MultiByteCharactersAcrossPieces) {
  // "。" is E3 80 82; the pieces split it between bytes.
  const FeedResult run = Feed({"。"}, {"答案\xE3", "\x80", "\x82后面"});
  EXPECT_TRUE(run.progress.stopped);
  EXPECT_EQ(run.emitted, "答案");
}

TEST(StopStringMatcherTest, MatchesBeforeMinTokensDoNotStopButStraddlingOnesDo) {
  StopStringMatcher matcher(std::vector<std::string>{"ab"});
  EXPECT_FALSE(matcher.Append("xab", /*may_stop=*/false).stopped);
  EXPECT_EQ(matcher.progress().safe_end, 3u);  // an ignored match is ordinary text
  EXPECT_EQ(matcher.Append("a", /*may_stop=*/false).safe_end, 3u);  // "a" may begin "ab"
  const StopStringMatcher::Progress p = matcher.Append("b", /*may_stop=*/true);
  EXPECT_TRUE(p.stopped);
  EXPECT_EQ(p.safe_end, 3u);
}

TEST(StopStringMatcherTest, IgnoredMatchThatMayStillGrowIsHeldBack) {
  StopStringMatcher matcher(std::vector<std::string>{"ab", "abc"});
  EXPECT_EQ(matcher.Append("xab", /*may_stop=*/false).safe_end, 1u);  // "abc" may follow
  const StopStringMatcher::Progress p = matcher.Append("c", /*may_stop=*/true);
  EXPECT_TRUE(p.stopped);
  EXPECT_EQ(p.stop_index, 1);
  EXPECT_EQ(p.safe_end, 1u);
}

TEST(StopStringMatcherTest, AfterAStopNothingChanges) {
  StopStringMatcher matcher(std::vector<std::string>{"x"});
  ASSERT_TRUE(matcher.Append("axb").stopped);
  const StopStringMatcher::Progress p = matcher.Append("more x");
  EXPECT_TRUE(p.stopped);
  EXPECT_EQ(p.safe_end, 1u);
  EXPECT_EQ(matcher.text_bytes(), 9u);
}

TEST(StopStringMatcherTest, CopiesContinueIndependently) {
  StopStringMatcher first(std::vector<std::string>{"abc"});
  first.Append("xab");
  StopStringMatcher second = first;
  EXPECT_TRUE(first.Append("c").stopped);
  EXPECT_FALSE(second.Append("d").stopped);
  EXPECT_EQ(second.progress().safe_end, 4u);
}

TEST(StopStringMatcherTest, LongTextIsLinear) {
  // 4 MB of text that keeps almost matching a 200-byte stop string: quadratic matching would
  // take minutes.
  const std::string stop = std::string(199, 'a') + "b";
  StopStringMatcher matcher(std::vector<std::string>{stop});
  const std::string piece(4096, 'a');
  for (int i = 0; i < 1024; ++i) ASSERT_FALSE(matcher.Append(piece).stopped);
  EXPECT_EQ(matcher.progress().safe_end, 4096u * 1024 - 199);
  EXPECT_TRUE(matcher.Append("b").stopped);
  EXPECT_EQ(matcher.progress().safe_end, 4096u * 1024 - 199);
}

// The reference, by brute force over the whole text: the first end position at which some stop
// string occurs (longest, then first listed), else the text minus the longest suffix that is a
// proper beginning of a stop string.
StopStringMatcher::Progress Reference(const std::vector<std::string>& stops,
                                      const std::string& text) {
  StopStringMatcher::Progress p;
  for (size_t end = 1; end <= text.size(); ++end) {
    size_t best_len = 0;
    int best = -1;
    for (size_t i = 0; i < stops.size(); ++i) {
      const std::string& s = stops[i];
      if (s.size() <= end && s.size() > best_len &&
          text.compare(end - s.size(), s.size(), s) == 0) {
        best_len = s.size();
        best = static_cast<int>(i);
      }
    }
    if (best >= 0) return {end - best_len, true, best};
  }
  size_t held = 0;
  for (const std::string& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > held; --len) {
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        held = len;
        break;
      }
    }
  }
  p.safe_end = text.size() - held;
  return p;
}

TEST(StopStringMatcherTest, RandomizedAgainstBruteForce) {
  std::mt19937 gen(3);
  std::uniform_int_distribution<int> letter(0, 2);
  std::uniform_int_distribution<int> length(1, 5);
  std::uniform_int_distribution<int> count(1, 4);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<std::string> stops(count(gen));
    for (std::string& s : stops) {
      s.resize(length(gen));
      for (char& c : s) c = static_cast<char>('a' + letter(gen));
    }
    StopStringMatcher matcher(stops);
    std::string text;
    for (int piece = 0; piece < 12; ++piece) {
      std::string add(length(gen) - 1, ' ');
      for (char& c : add) c = static_cast<char>('a' + letter(gen));
      text += add;
      const StopStringMatcher::Progress got = matcher.Append(add);
      const StopStringMatcher::Progress want = Reference(stops, text);
      ASSERT_EQ(got.stopped, want.stopped) << "trial " << trial << " text " << text;
      ASSERT_EQ(got.safe_end, want.safe_end) << "trial " << trial << " text " << text;
      ASSERT_EQ(got.stop_index, want.stop_index) << "trial " << trial << " text " << text;
      if (got.stopped) break;
    }
  }
}

}  // namespace
}  // namespace r1serve::engine
