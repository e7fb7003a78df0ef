// scale_columns_f16: the F16C path against the scalar one, bit for bit, on every f16 input.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "klab/cpu_convert.hpp"
#include "klab/dtype.hpp"

namespace klab::cpu {
namespace {

bool is_nan_bits(std::uint16_t h) {
  return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0;
}

TEST(CpuConvert, ScaleColumnsF16MatchesScalarOnEveryInput) {
  if (best_isa() != Isa::avx2) GTEST_SKIP() << "no AVX2 / F16C on this CPU";
  std::vector<std::uint16_t> in(65536 + 5);  // + 5: a tail shorter than a vector
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint16_t>(i * 40503u);
  std::mt19937 rng(std::random_device{}());
  // Scales that keep, shrink into subnormals and overflow to inf, plus fresh random ones.
  std::vector<float> picks = {1.0f, -1.0f, 0.5f, 3.0e-5f, 6.0e4f, 0.0f};
  std::uniform_real_distribution<float> any(-4.0f, 4.0f);
  for (int i = 0; i < 4; ++i) picks.push_back(any(rng));
  for (float pick : picks) {
    SCOPED_TRACE(pick);
    std::vector<float> scale(in.size());
    for (float& s : scale) s = pick * (1.0f + 0.01f * any(rng));
    std::vector<std::uint16_t> fast(in.size(), 0xFFFFu), slow(in.size(), 0xFFFFu);
    scale_columns_f16(in, scale, fast, Isa::avx2);
    scale_columns_f16(in, scale, slow, Isa::scalar);
    int mismatches = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (is_nan_bits(slow[i])) {
        EXPECT_TRUE(is_nan_bits(fast[i])) << i;
        continue;
      }
      if (fast[i] != slow[i] && ++mismatches <= 5)
        ADD_FAILURE() << "input " << in[i] << " x " << scale[i] << ": " << fast[i] << " vs "
                      << slow[i];
    }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(CpuConvert, ScaleColumnsF16InPlaceAndLengthChecks) {
  std::vector<std::uint16_t> row = {f32_to_f16_bits(1.5f), f32_to_f16_bits(-2.0f),
                                    f32_to_f16_bits(0.25f)};
  const std::vector<float> scale = {2.0f, 0.5f, -4.0f};
  scale_columns_f16(row, scale, row);
  EXPECT_EQ(f16_bits_to_f32(row[0]), 3.0f);
  EXPECT_EQ(f16_bits_to_f32(row[1]), -1.0f);
  EXPECT_EQ(f16_bits_to_f32(row[2]), -1.0f);
  std::vector<std::uint16_t> shorter(2);
  EXPECT_THROW(scale_columns_f16(row, scale, shorter), Error);
}

}  // namespace
}  // namespace klab::cpu
