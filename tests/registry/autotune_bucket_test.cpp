// Shape buckets: power-of-two ranges and the key text.
#include <gtest/gtest.h>

#include "klab/autotune.hpp"

namespace klab::autotune {
namespace {

TEST(AutotuneBucket, PowerOfTwoRanges) {
  EXPECT_EQ(range(0), "0");
  EXPECT_EQ(range(-3), "0");
  EXPECT_EQ(range(1), "1");
  EXPECT_EQ(range(2), "2");
  EXPECT_EQ(range(3), "3..4");
  EXPECT_EQ(range(4), "3..4");
  EXPECT_EQ(range(5), "5..8");
  EXPECT_EQ(range(8), "5..8");
  EXPECT_EQ(range(9), "9..16");
  EXPECT_EQ(range(4095), "2049..4096");
  EXPECT_EQ(range(4096), "2049..4096");
  EXPECT_EQ(range(4097), "4097..8192");
  EXPECT_EQ(range(14336), "8193..16384");
  EXPECT_EQ(range(std::int64_t{1} << 40), "549755813889..1099511627776");
  EXPECT_NO_THROW(range(INT64_MAX));
}

TEST(AutotuneBucket, EveryValueInARangeMapsToItsName) {
  for (std::int64_t n = 3; n <= 5000; ++n) {
    const std::string r = range(n);
    const auto dots = r.find("..");
    ASSERT_NE(dots, std::string::npos);
    const std::int64_t lo = std::stoll(r.substr(0, dots)), hi = std::stoll(r.substr(dots + 2));
    EXPECT_LE(lo, n);
    EXPECT_GE(hi, n);
    EXPECT_EQ(hi, 2 * (lo - 1));
  }
}

TEST(AutotuneBucket, KeyJoinsDimsInOrder) {
  const ShapeKey k = key(DType::bf16, {{"T", range(4096)}, {"H", 4096}, {"style", "half_split"}});
  EXPECT_EQ(k.bucket, "T=2049..4096,H=4096,style=half_split");
  EXPECT_EQ(k.dtype, "bf16");
  EXPECT_EQ(key("q4_g32_sym/f16", {{"M", 1}}), (ShapeKey{"M=1", "q4_g32_sym/f16"}));
  EXPECT_EQ(key(DType::f16, {}).bucket, "");
}

}  // namespace
}  // namespace klab::autotune
