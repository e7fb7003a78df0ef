// RoPE: inverse frequencies, Llama-3 scaling, and the rotation in both pair conventions.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "klab/ref.hpp"
#include "ref_helpers.hpp"

using namespace klab;
using namespace klab::test;

namespace {

TEST(RopeInvFreq, IsThetaPowers) {
  const auto f = ref::rope_inv_freq(128, 10000.0f);
  ASSERT_EQ(f.size(), 64u);
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_FLOAT_EQ(f[32], 0.01f);  // 10000^(-64/128)
  for (std::size_t i = 0; i < f.size(); ++i)
    EXPECT_FLOAT_EQ(f[i], float(std::pow(10000.0, -2.0 * double(i) / 128)));
}

TEST(RopeInvFreq, Llama3ScalingAtHighMidAndLowFrequencies) {
  // Llama-3.1 settings: factor 8, low 1, high 4, original context 8192, theta 500000, dim 128.
  // Wavelengths below 8192/4 = 2048 keep their frequency; above 8192/1 they are divided by 8.
  const ref::RopeScaling llama31{8.0f, 1.0f, 4.0f, 8192};
  const auto plain = ref::rope_inv_freq(128, 500000.0f);
  const auto scaled = ref::rope_inv_freq(128, 500000.0f, &llama31);
  ASSERT_EQ(scaled.size(), 64u);
  // High frequency: i = 0 has frequency 1 (wavelength 2*pi), unchanged.
  EXPECT_EQ(scaled[0], 1.0f);
  // i = 20: 500000^(-40/128) = 0.016355..., wavelength 384 < 2048: unchanged.
  EXPECT_EQ(scaled[20], plain[20]);
  // Mid band, i = 32: f = 500000^-0.5 = 1.41421356e-3, wavelength 2*pi/f = 4442.88;
  // smooth = (8192 / 4442.88 - 1) / (4 - 1) = 0.2812826; f * ((1 - smooth) / 8 + smooth).
  EXPECT_NEAR(scaled[32], 1.414213562e-3 * 0.3711222795, 1e-9);
  // Low frequency, i = 40: wavelength 2*pi * 500000^(80/128) = 22,962 > 8192: divided by 8.
  EXPECT_FLOAT_EQ(scaled[40], plain[40] / 8.0f);
  EXPECT_FLOAT_EQ(scaled[63], plain[63] / 8.0f);
  // The band edges are continuous: no frequency is scaled by more than 8 or less than 1.
  for (std::size_t i = 0; i < 64; ++i) {
    EXPECT_LE(scaled[i], plain[i] * 1.0000001f);
    EXPECT_GE(scaled[i], plain[i] / 8.0000001f);
  }
}

// A single head of [1, 2, 3, 4] at position 1 with inv_freq [1, 0.01]: angles 1 and 0.01 rad.
TEST(Rope, MatchesHandComputedRotationHalfSplit) {
  HostTensor x(DType::f32, {1, 1, 4});
  const float in[] = {1, 2, 3, 4};
  std::copy(std::begin(in), std::end(in), x.ptr<float>());
  const std::int32_t pos[] = {1};
  const float inv_freq[] = {1.0f, 0.01f};
  ref::rope(x.view(), pos, inv_freq, ref::RopeStyle::half_split);
  // Pairs (0, 2) by 1 rad and (1, 3) by 0.01 rad.
  const float* o = x.ptr<float>();
  EXPECT_NEAR(o[0], 1 * std::cos(1.0) - 3 * std::sin(1.0), 1e-6);
  EXPECT_NEAR(o[2], 1 * std::sin(1.0) + 3 * std::cos(1.0), 1e-6);
  EXPECT_NEAR(o[1], 2 * std::cos(0.01) - 4 * std::sin(0.01), 1e-6);
  EXPECT_NEAR(o[3], 2 * std::sin(0.01) + 4 * std::cos(0.01), 1e-6);
}

TEST(Rope, MatchesHandComputedRotationInterleaved) {
  HostTensor x(DType::f32, {2, 1, 4});
  const float in[] = {1, 2, 3, 4, 1, 2, 3, 4};
  std::copy(std::begin(in), std::end(in), x.ptr<float>());
  const std::int32_t pos[] = {0, 3};  // position 0 is the identity
  const float inv_freq[] = {1.0f, 0.01f};
  ref::rope(x.view(), pos, inv_freq, ref::RopeStyle::interleaved);
  const float* o = x.ptr<float>();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(o[i], in[i]);
  // Pairs (0, 1) by 3 rad and (2, 3) by 0.03 rad.
  EXPECT_NEAR(o[4], 1 * std::cos(3.0) - 2 * std::sin(3.0), 1e-6);
  EXPECT_NEAR(o[5], 1 * std::sin(3.0) + 2 * std::cos(3.0), 1e-6);
  EXPECT_NEAR(o[6], 3 * std::cos(0.03) - 4 * std::sin(0.03), 1e-6);
  EXPECT_NEAR(o[7], 3 * std::sin(0.03) + 4 * std::cos(0.03), 1e-6);
}

struct RopeCase {
  ref::RopeStyle style;
  int head_dim, rot_dim;
};

class RopeProperties : public ::testing::TestWithParam<RopeCase> {};

double head_norm(const TensorView& x, std::int64_t t, std::int64_t h) {
  double s = 0;
  for (std::int64_t d = 0; d < x.dim(2); ++d)
    s += std::pow(double(load_f32(x, x.offset({t, h, d}))), 2);
  return std::sqrt(s);
}

TEST_P(RopeProperties, PreservesNormAndLeavesUnrotatedDims) {
  const auto c = GetParam();
  auto x = random_tensor(DType::f32, {9, 3, c.head_dim});
  auto before = random_tensor(DType::f32, {9, 3, c.head_dim});
  std::copy_n(x.ptr<float>(), x.view().numel(), before.ptr<float>());
  std::vector<std::int32_t> pos(9);
  for (auto& p : pos) p = random_int(0, 100000);
  const auto inv_freq = ref::rope_inv_freq(c.rot_dim, 10000.0f);
  ref::rope(x.view(), pos, inv_freq, c.style);
  for (int t = 0; t < 9; ++t)
    for (int h = 0; h < 3; ++h) {
      EXPECT_NEAR(head_norm(x.view(), t, h), head_norm(before.view(), t, h), 1e-5);
      for (int d = c.rot_dim; d < c.head_dim; ++d)
        EXPECT_EQ(x.ptr<float>()[(t * 3 + h) * c.head_dim + d],
                  before.ptr<float>()[(t * 3 + h) * c.head_dim + d]);
    }
}

TEST_P(RopeProperties, OffsetsComposeAndDotDependsOnDistanceOnly) {
  const auto c = GetParam();
  const auto inv_freq = ref::rope_inv_freq(c.rot_dim, 10000.0f);
  // Rotating at position p then at q equals rotating at p + q.
  auto a = random_tensor(DType::f32, {1, 1, c.head_dim});
  auto b = random_tensor(DType::f32, {1, 1, c.head_dim});
  std::copy_n(a.ptr<float>(), c.head_dim, b.ptr<float>());
  const std::int32_t p = random_int(0, 50), q = random_int(0, 50), pq = p + q;
  ref::rope(a.view(), std::span(&p, 1), inv_freq, c.style);
  ref::rope(a.view(), std::span(&q, 1), inv_freq, c.style);
  ref::rope(b.view(), std::span(&pq, 1), inv_freq, c.style);
  EXPECT_LE(rel_error(a.view(), b.view()), 1e-5);
  // <rope(x, m), rope(y, n)> depends only on m - n.
  auto xy = random_tensor(DType::f32, {2, 1, c.head_dim});
  auto shifted = random_tensor(DType::f32, {2, 1, c.head_dim});
  std::copy_n(xy.ptr<float>(), 2 * c.head_dim, shifted.ptr<float>());
  const std::int32_t near_pos[] = {7, 3}, far_pos[] = {1007, 1003};
  ref::rope(xy.view(), near_pos, inv_freq, c.style);
  ref::rope(shifted.view(), far_pos, inv_freq, c.style);
  auto dot = [&](const HostTensor& t) {
    double s = 0;
    for (int d = 0; d < c.head_dim; ++d)
      s += double(t.ptr<float>()[d]) * t.ptr<float>()[c.head_dim + d];
    return s;
  };
  EXPECT_NEAR(dot(xy), dot(shifted), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Styles, RopeProperties,
                         ::testing::Values(RopeCase{ref::RopeStyle::half_split, 64, 64},
                                           RopeCase{ref::RopeStyle::interleaved, 64, 64},
                                           RopeCase{ref::RopeStyle::half_split, 80, 32},
                                           RopeCase{ref::RopeStyle::interleaved, 80, 32},
                                           RopeCase{ref::RopeStyle::half_split, 2, 2}));

TEST(Rope, Bf16AndF16InputsRoundOnlyOnStore) {
  for (DType dt : {DType::f16, DType::bf16}) {
    auto x = random_tensor(dt, {5, 2, 16});
    HostTensor x32(DType::f32, {5, 2, 16});
    for (std::int64_t i = 0; i < 160; ++i) x32.ptr<float>()[i] = load_f32(x.view(), i);
    const std::int32_t pos[] = {0, 1, 2, 3, 4000};
    const auto f = ref::rope_inv_freq(16, 10000.0f);
    ref::rope(x.view(), pos, f, ref::RopeStyle::half_split);
    ref::rope(x32.view(), pos, f, ref::RopeStyle::half_split);
    EXPECT_LE(rel_error(x.view(), x32.view()), tolerance(dt)) << dtype_name(dt);
  }
}

TEST(RopeBadArgs, EachArgumentIsChecked) {
  HostTensor x(DType::f32, {2, 2, 8});
  const auto X = x.view();
  const std::int32_t pos[] = {0, 1}, neg[] = {0, -1};
  const auto f = ref::rope_inv_freq(8, 10000.0f);
  const auto too_many = ref::rope_inv_freq(10, 10000.0f);
  const float not_finite[] = {1.0f, NAN};
  constexpr auto hs = ref::RopeStyle::half_split;
  expect_arg_error([&] { ref::rope(X.reshaped({4, 8}), pos, f, hs); }, "rope", "x");
  expect_arg_error([&] { ref::rope(on_cuda(X), pos, f, hs); }, "rope", "x");
  expect_arg_error([&] { ref::rope(as_dtype(X, DType::i32), pos, f, hs); }, "rope", "x");
  expect_arg_error([&] { ref::rope(X, std::span(pos, 1), f, hs); }, "rope", "positions");
  expect_arg_error([&] { ref::rope(X, neg, f, hs); }, "rope", "positions");
  expect_arg_error([&] { ref::rope(X, pos, too_many, hs); }, "rope", "inv_freq");
  expect_arg_error([&] { ref::rope(X, pos, std::span<const float>{}, hs); }, "rope", "inv_freq");
  expect_arg_error([&] { ref::rope(X, pos, not_finite, hs); }, "rope", "inv_freq");
  expect_arg_error([&] { ref::rope(X, pos, f, static_cast<ref::RopeStyle>(7)); }, "rope", "style");
  expect_arg_error([] { ref::rope_inv_freq(7, 10000.0f); }, "rope_inv_freq", "rot_dim");
  expect_arg_error([] { ref::rope_inv_freq(0, 10000.0f); }, "rope_inv_freq", "rot_dim");
  expect_arg_error([] { ref::rope_inv_freq(8, 1.0f); }, "rope_inv_freq", "theta");
  expect_arg_error([] { ref::rope_inv_freq(8, INFINITY); }, "rope_inv_freq", "theta");
  ref::RopeScaling s;
  s.factor = 0.0f;
  expect_arg_error([&] { ref::rope_inv_freq(8, 1e4f, &s); }, "rope_inv_freq", "scaling.factor");
  s = {};
  s.high_freq_factor = s.low_freq_factor;
  expect_arg_error([&] { ref::rope_inv_freq(8, 1e4f, &s); }, "rope_inv_freq",
                   "scaling.high_freq_factor");
  s = {};
  s.low_freq_factor = -1.0f;
  expect_arg_error([&] { ref::rope_inv_freq(8, 1e4f, &s); }, "rope_inv_freq",
                   "scaling.low_freq_factor");
  s = {};
  s.original_max_position = 0;
  expect_arg_error([&] { ref::rope_inv_freq(8, 1e4f, &s); }, "rope_inv_freq",
                   "scaling.original_max_position");
}

}  // namespace
