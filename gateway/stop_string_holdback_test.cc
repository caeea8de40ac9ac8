#include "gateway/stop_string_holdback.h"

#include <gtest/gtest.h>

namespace r1serve::gateway {
namespace {

TEST(StopStringHoldbackTest, NoStopsPassesEverything) {
  StopStringHoldback h({});
  EXPECT_EQ(h.Push("hello "), "hello ");
  EXPECT_EQ(h.Push("world"), "world");
  bool found = true;
  EXPECT_EQ(h.Finish("!", "", &found), "!");
  EXPECT_FALSE(found);
}

TEST(StopStringHoldbackTest, HoldsAPossibleStart) {
  StopStringHoldback h({"END"});
  EXPECT_EQ(h.Push("the E"), "the ");
  EXPECT_EQ(h.Push("N"), "");
  EXPECT_EQ(h.Push("X"), "ENX");  // not the stop string after all
  EXPECT_EQ(h.Push("E"), "");
}

TEST(StopStringHoldbackTest, CutsAtTheStopString) {
  StopStringHoldback h({"\n\n"});
  EXPECT_EQ(h.Push("answer 4\n"), "answer 4");
  bool found = false;
  EXPECT_EQ(h.Finish("\nmore text", "\n\n", &found), "");
  EXPECT_TRUE(found);
}

TEST(StopStringHoldbackTest, StopInsideTheLastTokenText) {
  StopStringHoldback h({"stop"});
  EXPECT_EQ(h.Push("abc"), "abc");
  bool found = false;
  EXPECT_EQ(h.Finish("xstopy", "stop", &found), "x");
  EXPECT_TRUE(found);
}

TEST(StopStringHoldbackTest, LongestOfSeveralStops) {
  StopStringHoldback h({"ab", "xabc"});
  EXPECT_EQ(h.Push("1xab"), "1");  // "xab" could start "xabc"
  EXPECT_EQ(h.Push("d"), "xabd");
}

TEST(StopStringHoldbackTest, WholeStopStringIsHeldUntilDecodeDecides) {
  // With min_tokens a stop string may occur without ending the sample.
  StopStringHoldback h({"ab"});
  EXPECT_EQ(h.Push("ab"), "");
  EXPECT_EQ(h.Push("c"), "abc");
}

TEST(StopStringHoldbackTest, MissingStopGivesEverythingBack) {
  StopStringHoldback h({"zz"});
  EXPECT_EQ(h.Push("abz"), "ab");
  bool found = true;
  EXPECT_EQ(h.Finish("q", "zz", &found), "zq");
  EXPECT_FALSE(found);
}

TEST(StopStringHoldbackTest, MultiByteStopKeepsCharactersWhole) {
  StopStringHoldback h({"。\n"});
  EXPECT_EQ(h.Push("答案。"), "答案");
  EXPECT_EQ(h.Push("好"), "。好");
}

TEST(StopStringHoldbackTest, EmptyStopStringsAreIgnored) {
  StopStringHoldback h({""});
  EXPECT_EQ(h.Push("abc"), "abc");
}

TEST(StopStringHoldbackTest, WouldFindDoesNotConsume) {
  StopStringHoldback h({"ab"});
  EXPECT_EQ(h.Push("xa"), "x");
  EXPECT_TRUE(h.WouldFind("b", "ab"));
  EXPECT_FALSE(h.WouldFind("c", "ab"));
  EXPECT_FALSE(h.WouldFind("b", ""));
  bool found = false;
  EXPECT_EQ(h.Finish("b", "ab", &found), "");
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace r1serve::gateway
