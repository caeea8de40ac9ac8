#include "lib/engine/format/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace r1serve::engine {
namespace {

TEST(DTypeTest, NamesAndSizes) {
  EXPECT_EQ(DTypeName(DType::kQ8_0), "Q8_0");
  EXPECT_EQ(DTypeFromName("bf16"), DType::kBF16);
  EXPECT_EQ(DTypeFromName("q8_0"), DType::kQ8_0);
  EXPECT_EQ(DTypeFromName("F64"), std::nullopt);
  EXPECT_EQ(RowBytes(DType::kF32, 10), 40);
  EXPECT_EQ(RowBytes(DType::kF16, 10), 20);
  EXPECT_EQ(RowBytes(DType::kQ8_0, 4096), 4352);
}

TEST(DTypeTest, HalfKnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);  // below the rounding midpoint to infinity
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // the midpoint rounds to even: infinity
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(FloatToHalf(0x1p-24f), 0x0001);    // smallest subnormal
  EXPECT_EQ(FloatToHalf(0x1p-25f), 0x0000);    // tie between 0 and 2^-24: even is 0
  EXPECT_EQ(FloatToHalf(0x1.8p-24f), 0x0002);  // tie between 1 and 2 ulps: even is 2
  EXPECT_EQ(FloatToHalf(0x1p-14f), 0x0400);    // smallest normal
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f + 0x1p-11f), 0x3c00);  // tie: rounds to even mantissa
  EXPECT_EQ(FloatToHalf(1.0f + 0x1.8p-10f), 0x3c02);
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
  EXPECT_EQ(HalfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
}

TEST(DTypeTest, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalf(f), h) << std::hex << h;
  }
}

// Rounding to nearest: for floats between two halves, the nearer one wins (checked against a
// brute-force search around the value).
TEST(DTypeTest, HalfRoundsToNearest) {
  for (float x : {0.1f, 0.3333f, 1e-6f, 3e-5f, 123.456f, 6e4f, -0.7f, 1e-8f}) {
    const float rounded = HalfToFloat(FloatToHalf(x));
    const uint16_t h = FloatToHalf(x);
    for (int delta : {-1, 1}) {
      const float neighbour = HalfToFloat(static_cast<uint16_t>(h + delta));
      if (std::isnan(neighbour)) continue;  // below +0 lies 0xffff, a NaN
      EXPECT_LE(std::fabs(rounded - x), std::fabs(neighbour - x)) << x;
    }
  }
}

TEST(DTypeTest, Bf16) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(Bf16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(FloatToBf16(1.0f + 0x1p-8f), 0x3f80);    // tie: even
  EXPECT_EQ(FloatToBf16(1.0f + 0x1.8p-7f), 0x3f82);  // tie: even (up)
  EXPECT_EQ(FloatToBf16(1.0f + 0x1.1p-8f), 0x3f81);  // above the tie
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(std::nanf("")))));
  EXPECT_EQ(RoundToDType(DType::kBF16, 3.14159f), Bf16ToFloat(FloatToBf16(3.14159f)));
}

TEST(DTypeTest, Q8_0MatchesTheReferenceFormula) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = std::sin(static_cast<float>(i)) * (i < 32 ? 1.0f : 0.01f);
  x[40] = -0.05f;  // the second block's extreme is negative
  std::vector<std::byte> q(RowBytes(DType::kQ8_0, 64));
  QuantizeRowQ8_0(x.data(), 64, q.data());
  std::vector<float> back(64);
  DequantizeRow(DType::kQ8_0, q.data(), 64, back.data());
  for (int block = 0; block < 2; ++block) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[block * 32 + i]));
    const float d = amax / 127.0f;
    uint16_t stored_d;
    std::memcpy(&stored_d, q.data() + block * 34, 2);
    EXPECT_EQ(stored_d, FloatToHalf(d));
    for (int i = 0; i < 32; ++i) {
      const int expected_q = static_cast<int>(std::roundf(x[block * 32 + i] * (1.0f / d)));
      EXPECT_EQ(static_cast<int>(static_cast<int8_t>(q[block * 34 + 2 + i])), expected_q);
      EXPECT_NEAR(back[block * 32 + i], x[block * 32 + i], d * 0.51f);
    }
  }
  EXPECT_EQ(static_cast<int8_t>(q[34 + 2 + 8]), -127);  // the extreme maps to -127
}

TEST(DTypeTest, Q8_0ZeroBlock) {
  std::vector<float> x(32, 0.0f);
  std::vector<std::byte> q(34, std::byte{0xff});
  QuantizeRowQ8_0(x.data(), 32, q.data());
  for (std::byte b : q) EXPECT_EQ(b, std::byte{0});
}

TEST(DTypeTest, EncodeDecodeRoundTrip) {
  std::vector<float> x = {1.5f, -2.25f, 0.0f, 1e-3f};
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    std::vector<std::byte> bytes(RowBytes(dtype, 4));
    EncodeRow(dtype, x.data(), 4, bytes.data());
    std::vector<float> back(4);
    DequantizeRow(dtype, bytes.data(), 4, back.data());
    for (int i = 0; i < 4; ++i) EXPECT_EQ(back[i], RoundToDType(dtype, x[i])) << DTypeName(dtype);
  }
}

}  // namespace
}  // namespace r1serve::engine
