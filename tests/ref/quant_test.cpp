// Quantize / dequantize (all 12 formats), quantized and dense matrix products.
#include <gtest/gtest.h>

#include <cmath>

#include "klab/dtype.hpp"
#include "klab/ref.hpp"
#include "quant_random.hpp"
#include "ref_helpers.hpp"

using namespace klab;
using namespace klab::test;

namespace {

class QuantFormats : public ::testing::TestWithParam<QuantFormat> {};

// Rows with different ranges: centred, shifted far from zero, tiny, huge, and constant.
HostTensor varied_weights(DType dt, std::int64_t n, std::int64_t k) {
  HostTensor w(dt, {n, k});
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < k; ++c) {
      float v = u(rng());
      switch (r % 5) {
        case 1:
          v = 3.0f + 0.5f * v;
          break;  // all positive, away from zero
        case 2:
          v = 1e-4f * v;
          break;  // tiny (f16 subnormal scales)
        case 3:
          v = 300.0f * v;
          break;  // large
        case 4:
          v = 0.75f;
          break;  // constant group
        default:
          break;
      }
      store_f32(w.view(), r * k + c, v);
    }
  return w;
}

TEST_P(QuantFormats, DequantizeErrorIsAtMostHalfAStep) {
  const QuantFormat f = GetParam();
  for (DType dt : {DType::f32, DType::bf16}) {
    const std::int64_t n = 11, k = 3 * f.group;
    auto w = varied_weights(dt, n, k);
    const QuantMatrix q = ref::quantize(w.view(), f);
    ASSERT_NO_THROW(q.validate("test"));
    EXPECT_EQ(q.format, f);
    HostTensor deq(DType::f32, {n, k});
    poison(deq.view());
    ref::dequantize(deq.view(), q);
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t c = 0; c < k; ++c) {
        const double step = f16_bits_to_f32(q.scales[r * q.groups_per_row() + c / f.group]);
        const double x = load_f32(w.view(), r * k + c), y = deq.ptr<float>()[r * k + c];
        // Half a step, plus f32 rounding of q * scale + min.
        ASSERT_LE(std::abs(y - x), 0.5 * step * (1 + 1e-6) + 1e-6 * std::abs(x))
            << f.name() << " [" << r << ", " << c << "] x=" << x << " y=" << y << " step=" << step;
      }
  }
}

TEST_P(QuantFormats, ScalesAndMinsFollowTheDefinition) {
  const QuantFormat f = GetParam();
  auto w = random_tensor(DType::f32, {7, 2 * f.group}, -2, 2);
  const QuantMatrix q = ref::quantize(w.view(), f);
  const double levels = f.asymmetric ? (1 << f.bits) - 1 : (f.bits == 4 ? 7 : 127);
  for (std::int64_t r = 0; r < 7; ++r)
    for (std::int64_t g = 0; g < 2; ++g) {
      double lo = INFINITY, hi = -INFINITY;
      for (int c = 0; c < f.group; ++c) {
        const double v = w.ptr<float>()[r * 2 * f.group + g * f.group + c];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      const double scale = f16_bits_to_f32(q.scales[r * 2 + g]);
      if (f.asymmetric) {
        const double min = f16_bits_to_f32(q.mins[r * 2 + g]);
        EXPECT_LE(min, lo);
        EXPECT_GE(min, lo - std::abs(lo) / 1024 - 1e-7);  // within one f16 step below
        EXPECT_NEAR(scale, (hi - lo) / levels, 2.0 * (hi - lo) / levels / 1024 + 1e-6);
      } else {
        const double amax = std::max(-lo, hi);
        EXPECT_NEAR(scale, amax / levels, 2.0 * amax / levels / 1024);  // f16 rounding (+1 step)
      }
    }
}

TEST_P(QuantFormats, QuantMatmulEqualsDequantizeThenMatmul) {
  const QuantFormat f = GetParam();
  const std::int64_t n = 19, k = 2 * f.group + (f.group == 128 ? 128 : 0);
  auto w = random_tensor(DType::f32, {n, k});
  const QuantMatrix q = ref::quantize(w.view(), f);
  HostTensor deq(DType::f32, {n, k});
  ref::dequantize(deq.view(), q);
  for (std::int64_t m : {1, 3, 17, 64}) {
    auto x = random_tensor(DType::bf16, {m, k});
    HostTensor y(DType::f32, {m, n}), want(DType::f32, {m, n});
    poison(y.view());
    ref::quant_matmul(y.view(), x.view(), q);
    ref::matmul(want.view(), x.view(), deq.view());
    EXPECT_EQ(rel_error(y.view(), want.view()), 0.0) << f.name() << " M=" << m;
  }
}

INSTANTIATE_TEST_SUITE_P(All12, QuantFormats, ::testing::ValuesIn(all_quant_formats()),
                         [](const auto& info) { return info.param.name(); });

TEST(Quantize, ZeroGroupsAreExact) {
  for (const auto& f : all_quant_formats()) {
    HostTensor w(DType::f32, {2, f.group});
    for (int i = 0; i < 2 * f.group; ++i) w.ptr<float>()[i] = 0.0f;
    const QuantMatrix q = ref::quantize(w.view(), f);
    for (int c = 0; c < f.group; ++c) EXPECT_EQ(q.value(1, c), 0.0f) << f.name();
  }
}

TEST(Quantize, Q8SymMapsToGgufQ8_0) {
  auto w = random_tensor(DType::f32, {3, 64});
  const QuantMatrix q = ref::quantize(w.view(), {8, 32, false});
  const auto blocks = to_gguf_blocks(GgufBlockType::q8_0, q);
  const QuantMatrix back = from_gguf_blocks(GgufBlockType::q8_0, 3, 64, blocks);
  EXPECT_EQ(back.packed, q.packed);
  EXPECT_EQ(back.scales, q.scales);
}

TEST(Matmul, MatchesClosedForms) {
  // Identity weight: y == x.
  auto x = random_tensor(DType::f32, {5, 9});
  HostTensor eye(DType::f16, {9, 9}), y(DType::f32, {5, 9});
  for (int i = 0; i < 81; ++i) store_f32(eye.view(), i, i % 10 == 0 ? 1.0f : 0.0f);
  ref::matmul(y.view(), x.view(), eye.view());
  EXPECT_EQ(rel_error(y.view(), x.view()), 0.0);
  // Random: against a direct double sum.
  auto a = random_tensor(DType::bf16, {7, 131});
  auto w = random_tensor(DType::f32, {13, 131});
  HostTensor out(DType::f32, {7, 13}), want(DType::f32, {7, 13});
  poison(out.view());
  ref::matmul(out.view(), a.view(), w.view());
  for (int m = 0; m < 7; ++m)
    for (int n = 0; n < 13; ++n) {
      double s = 0;
      for (int k = 0; k < 131; ++k)
        s += double(load_f32(a.view(), m * 131 + k)) * w.ptr<float>()[n * 131 + k];
      want.ptr<float>()[m * 13 + n] = float(s);
    }
  EXPECT_LE(rel_error(out.view(), want.view()), 1e-6);
}

TEST(QuantBadArgs, EachArgumentIsChecked) {
  HostTensor w(DType::f32, {4, 64}), w_odd(DType::f32, {4, 48}), w_big(DType::f32, {1, 32});
  fill_uniform(w.view());
  fill_uniform(w_big.view(), 1e6f, 2e6f);
  const QuantFormat q4{4, 32, false};
  expect_arg_error([&] { ref::quantize(w_odd.view(), q4); }, "quantize", "w");
  expect_arg_error([&] { ref::quantize(on_cuda(w.view()), q4); }, "quantize", "w");
  expect_arg_error([&] { ref::quantize(as_dtype(w.view(), DType::i32), q4); }, "quantize", "w");
  expect_arg_error([&] { ref::quantize(w.view().reshaped({256}), q4); }, "quantize", "w");
  expect_arg_error([&] { ref::quantize(w.view(), {5, 32, false}); }, "quantize", "format");
  expect_arg_error([&] { ref::quantize(w.view(), {4, 16, false}); }, "quantize", "format");
  expect_arg_error([&] { ref::quantize(w_big.view(), q4); }, "quantize", "w");  // scale > f16 max
  w.ptr<float>()[70] = NAN;
  expect_arg_error([&] { ref::quantize(w.view(), q4); }, "quantize", "w");
  w.ptr<float>()[70] = 0.5f;

  const QuantMatrix q = ref::quantize(w.view(), q4);
  HostTensor out(DType::f32, {4, 64}), out_bad(DType::f32, {4, 32});
  expect_arg_error([&] { ref::dequantize(out_bad.view(), q); }, "dequantize", "out");
  expect_arg_error([&] { ref::dequantize(on_cuda(out.view()), q); }, "dequantize", "out");
  auto broken = q;
  broken.scales.pop_back();
  expect_arg_error([&] { ref::dequantize(out.view(), broken); }, "dequantize", "scales");

  HostTensor x(DType::f32, {2, 64}), x_bad(DType::f32, {2, 63}), y(DType::f32, {2, 4}),
      y_bad(DType::f32, {2, 5});
  expect_arg_error([&] { ref::quant_matmul(y.view(), x_bad.view(), q); }, "quant_matmul", "x");
  expect_arg_error([&] { ref::quant_matmul(y_bad.view(), x.view(), q); }, "quant_matmul", "y");
  expect_arg_error([&] { ref::quant_matmul(y.view(), x.view(), broken); }, "quant_matmul",
                   "scales");
  expect_arg_error([&] { ref::quant_matmul(y.view(), on_cuda(x.view()), q); }, "quant_matmul", "x");
  expect_arg_error([&] { ref::matmul(y.view(), x_bad.view(), w.view()); }, "matmul", "x");
  expect_arg_error([&] { ref::matmul(y_bad.view(), x.view(), w.view()); }, "matmul", "y");
  expect_arg_error([&] { ref::matmul(y.view(), x.view(), as_dtype(w.view(), DType::u8)); },
                   "matmul", "w");
}

}  // namespace
