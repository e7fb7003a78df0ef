#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "klab/dtype.hpp"
#include "klab/error.hpp"

using namespace klab;

namespace {
// Exhaustive oracle: the f16 value nearest to f (ties to even), by brute force over all halves.
std::uint16_t nearest_f16(float f) {
  if (std::isnan(f)) return 0x7E00;
  std::uint16_t best = 0;
  double best_err = INFINITY;
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float v = f16_bits_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(v)) continue;
    const double err = std::fabs(double(v) - double(f));
    if (err < best_err ||
        (err == best_err && (h & 1u) == 0 && std::signbit(v) == std::signbit(f))) {
      best = static_cast<std::uint16_t>(h);
      best_err = err;
    }
  }
  return best;
}
}  // namespace

TEST(DType, F16EdgeValues) {
  EXPECT_EQ(f32_to_f16_bits(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16_bits(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16_bits(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16_bits(65504.0f), 0x7BFF);  // max finite
  EXPECT_EQ(f32_to_f16_bits(65520.0f), 0x7C00);  // rounds to inf
  EXPECT_EQ(f32_to_f16_bits(65519.0f), 0x7BFF);  // rounds down
  EXPECT_EQ(f32_to_f16_bits(1e10f), 0x7C00);     // overflow
  EXPECT_EQ(f32_to_f16_bits(-INFINITY), 0xFC00);
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -24)), 0x0001);  // min subnormal
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.5f, -25)), 0x0001);  // above tie
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(3.0f, -25)), 0x0002);  // tie -> even (2)
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)), 0x0400);  // to normal
  const std::uint16_t nan = f32_to_f16_bits(std::nanf(""));
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  EXPECT_TRUE(std::isnan(f16_bits_to_f32(nan)));
  EXPECT_EQ(f16_bits_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_bits_to_f32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16_bits_to_f32(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(f16_bits_to_f32(0x8000)));
  EXPECT_EQ(f16_bits_to_f32(0x7C00), INFINITY);
}

TEST(DType, F16RoundTripsEveryHalf) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_bits_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16_bits(f), h) << std::hex << h;
  }
}

TEST(DType, F16MatchesNearestOnMidpointsAndRandom) {
  // Midpoints between consecutive halves are the hard cases for round-to-nearest-even.
  for (std::uint32_t h = 0; h < 0x7BFF; h += 97) {
    const double a = f16_bits_to_f32(static_cast<std::uint16_t>(h));
    const double b = f16_bits_to_f32(static_cast<std::uint16_t>(h + 1));
    const float mid = static_cast<float>((a + b) / 2);
    ASSERT_EQ(f32_to_f16_bits(mid), nearest_f16(mid)) << h;
  }
}

TEST(DType, Bf16EdgeValues) {
  EXPECT_EQ(f32_to_bf16_bits(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16_bits(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16_bits(INFINITY), 0x7F80);
  EXPECT_EQ(f32_to_bf16_bits(std::numeric_limits<float>::max()), 0x7F80);  // overflow
  EXPECT_EQ(f32_to_bf16_bits(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(f32_to_bf16_bits(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16_bits(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_EQ(f32_to_bf16_bits(std::bit_cast<float>(0x00000001u)), 0x0000);  // tiny subnormal
  EXPECT_EQ(f32_to_bf16_bits(std::bit_cast<float>(0x00010000u)), 0x0001);  // subnormal kept
  EXPECT_TRUE(std::isnan(bf16_bits_to_f32(f32_to_bf16_bits(std::nanf("")))));
  // A NaN whose payload sits only in the low bits must stay NaN, not become inf.
  EXPECT_TRUE(std::isnan(bf16_bits_to_f32(f32_to_bf16_bits(std::bit_cast<float>(0x7F800001u)))));
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bf16_bits_to_f32(static_cast<std::uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16_bits(f), b);
  }
}

TEST(DType, ParseRejectsUnknown) {
  EXPECT_EQ(parse_dtype("bf16"), DType::bf16);
  EXPECT_THROW(parse_dtype("f8"), Error);
}
