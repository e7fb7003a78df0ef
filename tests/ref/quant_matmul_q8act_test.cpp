// ref::quantize_q8_blocks and ref::quant_matmul_q8act: the block quantization follows its
// definition, the product equals a brute-force double loop over elements, and it stays close
// to the exact-x ref::quant_matmul.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "klab/dtype.hpp"
#include "klab/ref.hpp"
#include "quant_random.hpp"
#include "ref_helpers.hpp"

using namespace klab;
using namespace klab::test;

namespace {

// y[m, n] = sum_k d[m, k / 32] * x8[m, k] * (scale * q + min), element by element in f64.
HostTensor brute_force(const HostTensor& x, const QuantMatrix& w) {
  const ref::Q8Blocks xq = ref::quantize_q8_blocks(x.view());
  const std::int64_t M = x.view().dim(0), N = w.rows, K = w.cols;
  HostTensor y(DType::f32, {M, N});
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (std::int64_t k = 0; k < K; ++k) {
        const auto g = static_cast<std::size_t>(n * w.groups_per_row() + k / w.format.group);
        const double scale = f16_bits_to_f32(w.scales[g]);
        const double min = w.format.asymmetric ? f16_bits_to_f32(w.mins[g]) : 0.0;
        const double d = xq.d[static_cast<std::size_t>(m * (K / 32) + k / 32)];
        const double x8 = xq.q[static_cast<std::size_t>(m * K + k)];
        acc += d * x8 * (scale * w.code(n, k) + min);
      }
      y.ptr<float>()[m * N + n] = static_cast<float>(acc);
    }
  return y;
}

TEST(QuantizeQ8Blocks, FollowsTheDefinition) {
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    SCOPED_TRACE(dtype_label(dt));
    const std::int64_t M = 3, K = 160;
    HostTensor x = random_tensor(dt, {M, K}, -3.0f, 3.0f);
    for (std::int64_t k = 32; k < 64; ++k) store_f32(x.view(), k, 0.0f);  // an all-zero block
    const ref::Q8Blocks q = ref::quantize_q8_blocks(x.view());
    ASSERT_EQ(q.q.size(), static_cast<std::size_t>(M * K));
    ASSERT_EQ(q.d.size(), static_cast<std::size_t>(M * K / 32));
    for (std::int64_t m = 0; m < M; ++m)
      for (std::int64_t b = 0; b < K / 32; ++b) {
        float amax = 0.0f;
        for (std::int64_t k = b * 32; k < (b + 1) * 32; ++k)
          amax = std::fmax(amax, std::fabs(load_f32(x.view(), m * K + k)));
        const auto bi = static_cast<std::size_t>(m * (K / 32) + b);
        const float d = amax / 127.0f;
        EXPECT_EQ(q.d[bi], d);
        std::int32_t sum = 0, qmax = 0;
        for (std::int64_t k = b * 32; k < (b + 1) * 32; ++k) {
          const std::int32_t v = q.q[static_cast<std::size_t>(m * K + k)];
          const float xv = load_f32(x.view(), m * K + k);
          EXPECT_LE(std::abs(v), 127);
          if (d > 0) {
            EXPECT_LE(std::fabs(xv - d * static_cast<float>(v)), 0.5f * d * (1 + 1e-5f)) << k;
          } else {
            EXPECT_EQ(v, 0);
          }
          sum += v;
          qmax = std::max(qmax, std::abs(v));
        }
        EXPECT_EQ(q.sum[bi], sum);
        EXPECT_EQ(qmax, d > 0 ? 127 : 0);  // the largest element maps to +-127
      }
  }
}

TEST(QuantizeQ8Blocks, RejectsBadShapes) {
  HostTensor x(DType::f32, {2, 48});
  expect_arg_error([&] { ref::quantize_q8_blocks(x.view()); }, "quantize_q8_blocks", "x");
  HostTensor x1(DType::f32, {64});
  expect_arg_error([&] { ref::quantize_q8_blocks(x1.view()); }, "quantize_q8_blocks", "x");
}

TEST(QuantMatmulQ8Act, EqualsBruteForceAndStaysCloseToTheExactProduct) {
  for (const QuantFormat& f : all_quant_formats()) {
    for (DType act : {DType::f16, DType::bf16, DType::f32}) {
      SCOPED_TRACE(f.name() + " x=" + dtype_label(act));
      // N >= 48: ||y|| over many outputs, so single cancelling dot products do not dominate.
      const std::int64_t M = random_int(1, 4), N = random_int(48, 80), K = 3 * 128;
      const QuantMatrix w = random_quant(f, N, K);
      const HostTensor x = random_tensor(act, {M, K});
      HostTensor y(DType::f32, {M, N}), exact(DType::f32, {M, N});
      poison(y.view());
      ref::quant_matmul_q8act(y.view(), x.view(), w);
      EXPECT_LE(rel_error(y.view(), brute_force(x, w).view()), 1e-6);
      ref::quant_matmul(exact.view(), x.view(), w);
      const double dist = rel_error(y.view(), exact.view());
      std::printf("q8 activations vs exact x: %-12s x=%-4s M=%lld N=%lld  rel %.2e\n",
                  f.name().c_str(), dtype_label(act), static_cast<long long>(M),
                  static_cast<long long>(N), dist);
      EXPECT_LT(dist, 2e-2);
      EXPECT_GT(dist, 0.0);  // x8 rounding is visible: the oracle is not the exact product
    }
  }
}

TEST(QuantMatmulQ8Act, LongRowsStayClose) {
  const QuantMatrix w = random_quant({4, 32, false}, 16, 14336);
  const HostTensor x = random_tensor(DType::f16, {2, 14336});
  HostTensor y(DType::f32, {2, 16}), exact(DType::f32, {2, 16});
  ref::quant_matmul_q8act(y.view(), x.view(), w);
  ref::quant_matmul(exact.view(), x.view(), w);
  const double dist = rel_error(y.view(), exact.view());
  std::printf("q8 activations vs exact x: q4_g32_sym K=14336 rel %.2e\n", dist);
  EXPECT_LT(dist, 2e-2);
}

TEST(QuantMatmulQ8Act, NonFiniteInputGivesNonFiniteOutput) {
  const QuantMatrix w = random_quant({8, 32, true}, 2, 64);
  HostTensor x = random_tensor(DType::f32, {2, 64});
  store_f32(x.view(), 40, INFINITY);  // row 0, block 1
  HostTensor y(DType::f32, {2, 2});
  ref::quant_matmul_q8act(y.view(), x.view(), w);
  EXPECT_FALSE(std::isfinite(y.ptr<float>()[0]));
  EXPECT_FALSE(std::isfinite(y.ptr<float>()[1]));
  EXPECT_TRUE(std::isfinite(y.ptr<float>()[2]));  // row 1 is untouched
  EXPECT_TRUE(std::isfinite(y.ptr<float>()[3]));
}

TEST(QuantMatmulQ8Act, RejectsBadArguments) {
  const QuantMatrix w = random_quant({4, 32, false}, 4, 64);
  HostTensor x(DType::f32, {2, 64}), y(DType::f32, {2, 4});
  HostTensor x_short(DType::f32, {2, 32}), y_wrong(DType::f32, {2, 5});
  expect_arg_error([&] { ref::quant_matmul_q8act(y.view(), x_short.view(), w); },
                   "quant_matmul_q8act", "x");
  expect_arg_error([&] { ref::quant_matmul_q8act(y_wrong.view(), x.view(), w); },
                   "quant_matmul_q8act", "y");
  expect_arg_error([&] { ref::quant_matmul_q8act(y.view(), on_cuda(x.view()), w); },
                   "quant_matmul_q8act", "x");
  QuantMatrix bad = w;
  bad.scales.pop_back();
  EXPECT_THROW(ref::quant_matmul_q8act(y.view(), x.view(), bad), Error);
}

}  // namespace
