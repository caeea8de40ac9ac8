#include "lib/text/unicode_categories.h"

#include <gtest/gtest.h>

namespace r1serve::text {
namespace {

TEST(UnicodeCategoriesTest, Lookups) {
  EXPECT_EQ(GetGeneralCategory('A'), GeneralCategory::kLu);
  EXPECT_EQ(GetGeneralCategory(' '), GeneralCategory::kZs);
  EXPECT_EQ(GetGeneralCategory(0x4E00), GeneralCategory::kLo);
  EXPECT_EQ(GetGeneralCategory(0x0301), GeneralCategory::kMn);
  EXPECT_EQ(GetGeneralCategory(0xD800), GeneralCategory::kCs);
  EXPECT_EQ(GetGeneralCategory(0x10FFFF), GeneralCategory::kCn);
  EXPECT_EQ(GetGeneralCategory(0x1C89), GeneralCategory::kLu);   // new in Unicode 16.0
  EXPECT_EQ(GetGeneralCategory(0x10940), GeneralCategory::kCn);  // 17.0: not yet to HF
  EXPECT_TRUE(IsWhiteSpace(0x85));
  EXPECT_FALSE(IsWhiteSpace(0x180E));
}

TEST(UnicodeCategoriesTest, PropertyNames) {
  EXPECT_EQ(*CategoryMaskFromName("L"), *CategoryMaskFromName("Letter"));
  EXPECT_EQ(*CategoryMaskFromName("lu"), *CategoryMaskFromName("Lu"));
  EXPECT_EQ(*CategoryMaskFromName("Cased_Letter"), *CategoryMaskFromName("LC"));
  EXPECT_FALSE(CategoryMaskFromName("Greek").ok());
  const CodePointSet letters = CodePointSet::FromCategories(*CategoryMaskFromName("L"));
  EXPECT_TRUE(letters.Contains('z'));
  EXPECT_FALSE(letters.Contains('1'));
  EXPECT_TRUE(CodePointSet::FromCategories(*CategoryMaskFromName("Any")).Contains(0x10FFFF));
}

TEST(CodePointSetTest, Algebra) {
  CodePointSet a = CodePointSet::FromRanges({{10, 20}, {15, 30}, {31, 31}, {50, 60}});
  EXPECT_EQ(a.ranges(), (std::vector<CodePointSet::Range>{{10, 31}, {50, 60}}));
  const CodePointSet b = CodePointSet::FromRanges({{0, 12}, {55, 100}});
  EXPECT_EQ(a.Minus(b).ranges(), (std::vector<CodePointSet::Range>{{13, 31}, {50, 54}}));
  EXPECT_EQ(a.Complement().ranges(),
            (std::vector<CodePointSet::Range>{{0, 9}, {32, 49}, {61, 0x10FFFF}}));
  EXPECT_EQ(a.Complement().Complement(), a);
  a.Add(32, 49);
  EXPECT_EQ(a.ranges(), (std::vector<CodePointSet::Range>{{10, 60}}));
}

}  // namespace
}  // namespace r1serve::text
