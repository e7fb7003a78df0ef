// CPU matrix products vs klab::ref on fresh random GGUF blocks and odd shapes, for the scalar
// and (where the CPU has it) the AVX2 path, single- and multi-threaded, with 16-bit and 8-bit
// activation blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "klab/cpu_matmul.hpp"
#include "klab/quant.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::cpu {
namespace {

using test::rel_error;
using test::rng;

std::vector<Isa> isas() {
  std::vector<Isa> v{Isa::scalar};
  if (best_isa() == Isa::avx2) v.push_back(Isa::avx2);
  return v;
}

GgufBlockType block_type(WeightType t) {
  switch (t) {
    case WeightType::q4_0:
      return GgufBlockType::q4_0;
    case WeightType::q4_1:
      return GgufBlockType::q4_1;
    default:
      return GgufBlockType::q8_0;
  }
}

void put_f16(std::vector<std::uint8_t>& out, float v) {
  const std::uint16_t bits = to_half(v).bits;
  out.push_back(static_cast<std::uint8_t>(bits & 0xFF));
  out.push_back(static_cast<std::uint8_t>(bits >> 8));
}

// Random blocks exactly as a GGUF file stores them: random scales (and mins), random codes.
std::vector<std::uint8_t> random_blocks(WeightType t, std::int64_t rows, std::int64_t cols) {
  std::uniform_real_distribution<float> scale(0.002f, 0.05f), min(-0.4f, 0.0f);
  std::uniform_int_distribution<int> byte(0, 255), q8(-127, 127);
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(rows) * weight_row_bytes(t, cols));
  for (std::int64_t b = 0; b < rows * cols / kQuantBlock; ++b) {
    put_f16(out, scale(rng()));
    if (t == WeightType::q4_1) put_f16(out, min(rng()));
    if (t == WeightType::q8_0) {
      for (int j = 0; j < kQuantBlock; ++j) out.push_back(static_cast<std::uint8_t>(q8(rng())));
    } else {
      for (int j = 0; j < kQuantBlock / 2; ++j)
        out.push_back(static_cast<std::uint8_t>(byte(rng())));
    }
  }
  return out;
}

std::vector<float> random_floats(std::size_t n) {
  std::vector<float> v(n);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& f : v) f = dist(rng());
  return v;
}

TensorView view(std::vector<float>& v, std::int64_t rows, std::int64_t cols) {
  return TensorView::contiguous(v.data(), DType::f32, {rows, cols});
}

constexpr ActivationFormat kFormats[] = {ActivationFormat::q16, ActivationFormat::q8};

// What the activation blocks of `format` stand for, and each block's step d.
struct QuantizedInput {
  std::vector<float> values;
  std::vector<float> step;
};

template <class Block, class Quantize, class Dequantize>
QuantizedInput quantized_as(const std::vector<float>& x, std::int64_t rows, std::int64_t cols,
                            Isa isa, Quantize quantize, Dequantize dequantize) {
  std::vector<Block> blocks(static_cast<std::size_t>(rows * cols / kQuantBlock));
  quantize(std::span<Block>(blocks), x.data(), rows, cols, isa);
  QuantizedInput out{dequantize(std::span<const Block>(blocks)), {}};
  for (const Block& b : blocks) out.step.push_back(b.d);
  return out;
}

QuantizedInput quantized_input(const std::vector<float>& x, std::int64_t rows, std::int64_t cols,
                               ActivationFormat format, Isa isa = best_isa()) {
  if (format == ActivationFormat::q8)
    return quantized_as<Q8Block>(x, rows, cols, isa, quantize_rows_q8, dequantize_q8);
  return quantized_as<Q16Block>(x, rows, cols, isa, quantize_rows_q16, dequantize_q16);
}

// Rounding to 8 bits costs about 0.4% of a product in norm, to 16 bits 258x less. A single
// block (K = 32) against few outputs scatters widely: 1.04% was seen in 1 of ~50 runs.
double rounding_tolerance(ActivationFormat format) {
  return format == ActivationFormat::q8 ? 2e-2 : 1e-4;
}

struct QuantCase {
  WeightType type;
  std::int64_t m, n, k;
};

std::string case_name(const QuantCase& c) {
  return std::string(weight_type_name(c.type)) + " M=" + std::to_string(c.m) +
         " N=" + std::to_string(c.n) + " K=" + std::to_string(c.k);
}

void check_quant_case(const QuantCase& c, int threads, ActivationFormat format) {
  SCOPED_TRACE(case_name(c) + " threads=" + std::to_string(threads) + " activations " +
               std::string(activation_format_name(format)));
  const auto blocks = random_blocks(c.type, c.n, c.k);
  const WeightMatrix w{c.type, c.n, c.k, blocks};
  w.validate("w");
  auto x = random_floats(static_cast<std::size_t>(c.m * c.k));
  const QuantMatrix qm = from_gguf_blocks(block_type(c.type), c.n, c.k, blocks);

  // Reference on the exact input, and on the input as the activation blocks stand for it.
  std::vector<float> y_ref(static_cast<std::size_t>(c.m * c.n));
  ref::quant_matmul(view(y_ref, c.m, c.n), view(x, c.m, c.k), qm);
  QuantizedInput seen = quantized_input(x, c.m, c.k, format);
  auto& x_seen = seen.values;
  std::vector<float> y_seen(y_ref.size());
  ref::quant_matmul(view(y_seen, c.m, c.n), view(x_seen, c.m, c.k), qm);

  ThreadPool pool(threads);
  for (Isa isa : isas()) {
    SCOPED_TRACE(std::string(isa_name(isa)));
    std::vector<float> y(y_ref.size(), std::nanf(""));
    Activations act(format);
    act.reset(x.data(), c.m, c.k);
    matmul(view(y, c.m, c.n), act, w, pool, isa);
    // Integer block dot products are exact: only f32 rounding separates us from the reference
    // on the input the blocks stand for (relative to sum |w x|, since an output may cancel).
    // Against the unquantized input the activation blocks add at most
    // sum_k |w[n, k]| * d(block of k) / 2 (round to nearest).
    for (std::int64_t r = 0; r < c.m; ++r)
      for (std::int64_t n = 0; n < c.n; n += std::max<std::int64_t>(1, c.n / 97)) {
        double magnitude = 0, rounding = 0;
        for (std::int64_t k = 0; k < c.k; ++k) {
          const double wv = std::fabs(qm.value(n, k));
          magnitude += wv * std::fabs(x_seen[r * c.k + k]);
          rounding += wv * seen.step[static_cast<std::size_t>((r * c.k + k) / kQuantBlock)] * 0.5;
        }
        const std::size_t i = static_cast<std::size_t>(r * c.n + n);
        ASSERT_LE(std::fabs(y[i] - y_seen[i]), 1e-5 * magnitude + 1e-30)
            << "y[" << r << ", " << n << "]";
        ASSERT_LE(std::fabs(y[i] - y_ref[i]), rounding + 1e-5 * magnitude)
            << "y[" << r << ", " << n << "]";
      }
    // Over enough outputs for the statistics to settle: 1e-5, and the rounding in norm.
    if (c.m * c.n >= 64) {
      EXPECT_LE(rel_error(y, y_seen), 1e-5);
      EXPECT_LE(rel_error(y, y_ref), rounding_tolerance(format));
    }
  }
}

TEST(CpuMatmul, QuantizedOddShapes) {
  for (ActivationFormat f : kFormats)
    for (WeightType t : {WeightType::q4_0, WeightType::q4_1, WeightType::q8_0})
      for (std::int64_t k : {32, 576, 1536})
        for (std::int64_t n : {1, 3, 67})
          for (std::int64_t m : {1, 2, 3, 4, 5, 9}) check_quant_case({t, m, n, k}, 3, f);
}

TEST(CpuMatmul, QuantizedVocabSizedOutput) {
  for (ActivationFormat f : kFormats)
    for (WeightType t : {WeightType::q4_0, WeightType::q4_1, WeightType::q8_0})
      for (std::int64_t m : {1, 3}) check_quant_case({t, m, 49152, 576}, 2, f);
}

TEST(CpuMatmul, QuantizedSingleThreadPrefill) {
  for (ActivationFormat f : kFormats) {
    check_quant_case({WeightType::q4_1, 37, 192, 576}, 1, f);
    check_quant_case({WeightType::q8_0, 37, 192, 576}, 1, f);
  }
}

// The largest codes of both sides: Q8_0 weights of -128 and 127 against activation blocks whose
// every element is +-max (all codes +-127 or +-32767) must neither saturate nor overflow.
TEST(CpuMatmul, ExtremeCodesDoNotOverflow) {
  const std::int64_t n = 6, k = 1536;
  std::vector<std::uint8_t> blocks;
  for (std::int64_t row = 0; row < n; ++row)
    for (std::int64_t b = 0; b < k / kQuantBlock; ++b) {
      put_f16(blocks, 0.01f);
      for (int j = 0; j < kQuantBlock; ++j)
        blocks.push_back(static_cast<std::uint8_t>(row % 2 == 0 ? 0x80 : 0x7F));  // -128 / 127
    }
  const WeightMatrix w{WeightType::q8_0, n, k, blocks};
  std::vector<float> x(static_cast<std::size_t>(2 * k));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = i < static_cast<std::size_t>(k) ? 3.0f : -3.0f;
  std::vector<float> y_ref(static_cast<std::size_t>(2 * n));
  ref::quant_matmul(view(y_ref, 2, n), view(x, 2, k),
                    from_gguf_blocks(GgufBlockType::q8_0, n, k, blocks));
  ThreadPool pool(2);
  for (ActivationFormat f : kFormats)
    for (Isa isa : isas()) {
      SCOPED_TRACE(std::string(activation_format_name(f)) + " " + std::string(isa_name(isa)));
      std::vector<float> y(y_ref.size(), std::nanf(""));
      Activations act(f);
      act.reset(x.data(), 2, k);
      matmul(view(y, 2, n), act, w, pool, isa);
      EXPECT_LE(rel_error(y, y_ref), 1e-6);  // +-max is exactly representable in both formats
    }
}

// Float weights, any K (no blocks): K = 1000 and tails shorter than one vector.
struct FloatCase {
  WeightType type;
  std::int64_t m, n, k;
};

HostTensor weights_as(WeightType t, const std::vector<float>& values, std::int64_t n,
                      std::int64_t k) {
  const DType dt = t == WeightType::f32   ? DType::f32
                   : t == WeightType::f16 ? DType::f16
                                          : DType::bf16;
  HostTensor w(dt, {n, k});
  for (std::int64_t i = 0; i < n * k; ++i) store_f32(w.view(), i, values[i]);
  return w;
}

TEST(CpuMatmul, FloatWeightsOddShapes) {
  ThreadPool pool(3);
  for (WeightType t : {WeightType::f32, WeightType::f16, WeightType::bf16})
    for (std::int64_t k : {1, 7, 576, 1000})
      for (std::int64_t n : {1, 3, 49})
        for (std::int64_t m : {1, 4, 6}) {
          const FloatCase c{t, m, n, k};
          SCOPED_TRACE(std::string(weight_type_name(t)) + " M=" + std::to_string(m) +
                       " N=" + std::to_string(n) + " K=" + std::to_string(k));
          const HostTensor w = weights_as(t, random_floats(static_cast<std::size_t>(n * k)), n, k);
          auto x = random_floats(static_cast<std::size_t>(m * k));
          std::vector<float> y_ref(static_cast<std::size_t>(m * n));
          ref::matmul(view(y_ref, m, n), view(x, m, k), w.view());
          const WeightMatrix wm{
              c.type, n, k, {static_cast<const std::uint8_t*>(w.view().data), w.view().nbytes()}};
          for (Isa isa : isas()) {
            SCOPED_TRACE(std::string(isa_name(isa)));
            std::vector<float> y(y_ref.size(), std::nanf(""));
            Activations act;
            act.reset(x.data(), m, k);
            matmul(view(y, m, n), act, wm, pool, isa);
            // f32 accumulation: error relative to sum |w x| (a lone output may cancel to ~0)...
            for (std::int64_t r = 0; r < m; ++r)
              for (std::int64_t o = 0; o < n; ++o) {
                double magnitude = 0;
                for (std::int64_t i = 0; i < k; ++i)
                  magnitude += std::fabs(load_f32(w.view(), o * k + i) * x[r * k + i]);
                ASSERT_LE(std::fabs(y[r * n + o] - y_ref[r * n + o]), 1e-5 * magnitude + 1e-30)
                    << "y[" << r << ", " << o << "]";
              }
            // ...and over enough outputs, 1e-5 in norm.
            if (m * n >= 64) {
              EXPECT_LE(rel_error(y, y_ref), 1e-5);
            }
          }
        }
}

// A row's result does not depend on how many rows share the call (decode vs batched prefill),
// so a prompt processed in one batch reproduces token-by-token decoding bit for bit.
TEST(CpuMatmul, BatchedRowsEqualSingleRowsExactly) {
  ThreadPool pool(2);
  const std::int64_t m = 7, n = 45, k = 576;
  for (ActivationFormat f : kFormats)
    for (WeightType t : {WeightType::q4_0, WeightType::q4_1, WeightType::q8_0}) {
      SCOPED_TRACE(std::string(weight_type_name(t)) + " " + std::string(activation_format_name(f)));
      const auto blocks = random_blocks(t, n, k);
      const WeightMatrix w{t, n, k, blocks};
      auto x = random_floats(static_cast<std::size_t>(m * k));
      std::vector<float> batch(static_cast<std::size_t>(m * n)),
          single(static_cast<std::size_t>(n));
      Activations act(f);
      act.reset(x.data(), m, k);
      matmul(view(batch, m, n), act, w, pool);
      for (std::int64_t r = 0; r < m; ++r) {
        act.reset(x.data() + r * k, 1, k);
        matmul(view(single, 1, n), act, w, pool);
        for (std::int64_t c = 0; c < n; ++c)
          ASSERT_EQ(single[c], batch[r * n + c]) << r << ", " << c;
      }
    }
}

TEST(CpuMatmul, WritesIntoStridedRows) {
  ThreadPool pool(2);
  const std::int64_t m = 3, n = 5, k = 64, ld = 9;
  const auto blocks = random_blocks(WeightType::q8_0, n, k);
  const WeightMatrix w{WeightType::q8_0, n, k, blocks};
  auto x = random_floats(static_cast<std::size_t>(m * k));
  std::vector<float> y(static_cast<std::size_t>(m * ld), std::nanf(""));
  TensorView yv = TensorView::contiguous(y.data(), DType::f32, {m, n});
  yv.stride[0] = ld;
  Activations act(ActivationFormat::q8);
  act.reset(x.data(), m, k);
  matmul(yv, act, w, pool);
  std::vector<float> y_dense(static_cast<std::size_t>(m * n)), y_ref(y_dense.size());
  for (std::int64_t r = 0; r < m; ++r)
    for (std::int64_t c = 0; c < n; ++c) y_dense[r * n + c] = y[r * ld + c];
  ref::quant_matmul(view(y_ref, m, n), view(x, m, k),
                    from_gguf_blocks(GgufBlockType::q8_0, n, k, blocks));
  EXPECT_LE(rel_error(y_dense, y_ref), 1e-2);
  for (std::int64_t r = 0; r < m; ++r)  // the gaps between rows stay untouched
    for (std::int64_t c = n; c < ld && r * ld + c < m * ld; ++c)
      EXPECT_TRUE(std::isnan(y[r * ld + c]));
}

TEST(CpuMatmul, RejectsMismatchedShapes) {
  ThreadPool pool(1);
  const auto blocks = random_blocks(WeightType::q4_1, 4, 64);
  const WeightMatrix w{WeightType::q4_1, 4, 64, blocks};
  auto x = random_floats(96);
  std::vector<float> y(4);
  Activations act;
  act.reset(x.data(), 1, 96);
  EXPECT_THROW(matmul(view(y, 1, 4), act, w, pool), Error);
  const WeightMatrix short_w{WeightType::q4_1, 5, 64, blocks};
  EXPECT_THROW(short_w.validate("w"), Error);
  EXPECT_THROW(weight_row_bytes(WeightType::q8_0, 33), Error);
}

template <class Block, class Quantize, class Dequantize>
void check_quantize_paths(Quantize quantize, Dequantize dequantize, float qmax) {
  const std::int64_t rows = 5, cols = 576;
  auto x = random_floats(static_cast<std::size_t>(rows * cols));
  x[3] = 0;  // and one all-zero block
  std::fill(x.begin() + 64, x.begin() + 96, 0.0f);
  // Poisoned: NaN scales and codes of the type's minimum, which quantizing never produces.
  Block poison;
  poison.d = poison.s = std::nanf("");
  std::fill(std::begin(poison.q), std::end(poison.q),
            std::numeric_limits<std::remove_reference_t<decltype(poison.q[0])>>::min());
  std::vector<Block> a(static_cast<std::size_t>(rows * cols / kQuantBlock), poison), b(a);
  quantize(std::span<Block>(a), x.data(), rows, cols, Isa::scalar);
  quantize(std::span<Block>(b), x.data(), rows, cols, best_isa());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].d, b[i].d) << "block " << i;
    ASSERT_EQ(a[i].s, b[i].s) << "block " << i;
    ASSERT_EQ(0, std::memcmp(a[i].q, b[i].q, sizeof a[i].q)) << "block " << i;
    ASSERT_EQ(std::count(std::begin(a[i].q), std::end(a[i].q), poison.q[0]), 0) << "block " << i;
    float amax = 0;
    std::int64_t sum = 0;
    for (int j = 0; j < kQuantBlock; ++j) {
      amax = std::max(amax, std::fabs(x[i * kQuantBlock + j]));
      sum += a[i].q[j];
    }
    ASSERT_EQ(a[i].d, amax / qmax) << "block " << i;
    ASSERT_EQ(a[i].s, a[i].d * static_cast<float>(sum)) << "block " << i;
  }
  const auto back = dequantize(std::span<const Block>(a));
  for (std::size_t i = 0; i < x.size(); ++i)
    // Half a step, plus the f32 rounding of x / d (relative to x: matters for 16-bit codes).
    ASSERT_LE(std::fabs(back[i] - x[i]), a[i / kQuantBlock].d * 0.5f + std::fabs(x[i]) * 1e-6f)
        << "element " << i;
  EXPECT_THROW(quantize(std::span<Block>(a).first(3), x.data(), rows, cols, best_isa()), Error);
  EXPECT_THROW(quantize(std::span<Block>(a), x.data(), rows * cols / 48, 48, best_isa()), Error);
}

TEST(CpuQuantize, PathsAgreeAndErrorIsBounded) {
  check_quantize_paths<Q8Block>(quantize_rows_q8, dequantize_q8, 127.0f);
  check_quantize_paths<Q16Block>(quantize_rows_q16, dequantize_q16, 32767.0f);
}

TEST(CpuEmbedding, RowsMatchDequantizedTable) {
  const std::int64_t rows = 50, cols = 96;
  const std::vector<std::int32_t> ids{0, 49, 7, 7, 23};
  for (WeightType t : {WeightType::q4_0, WeightType::q4_1, WeightType::q8_0}) {
    SCOPED_TRACE(std::string(weight_type_name(t)));
    const auto blocks = random_blocks(t, rows, cols);
    const QuantMatrix qm = from_gguf_blocks(block_type(t), rows, cols, blocks);
    std::vector<float> out(ids.size() * cols, std::nanf("")), expected(out.size());
    embedding(view(out, static_cast<std::int64_t>(ids.size()), cols), {t, rows, cols, blocks}, ids);
    for (std::size_t i = 0; i < ids.size(); ++i)
      for (std::int64_t c = 0; c < cols; ++c) expected[i * cols + c] = qm.value(ids[i], c);
    EXPECT_LE(rel_error(out, expected), 1e-6);
  }
  for (WeightType t : {WeightType::f32, WeightType::f16, WeightType::bf16}) {
    SCOPED_TRACE(std::string(weight_type_name(t)));
    const auto values = random_floats(static_cast<std::size_t>(rows * cols));
    const HostTensor w = weights_as(t, values, rows, cols);
    const WeightMatrix wm{
        t, rows, cols, {static_cast<const std::uint8_t*>(w.view().data), w.view().nbytes()}};
    std::vector<float> out(ids.size() * cols, std::nanf("")), expected(out.size());
    embedding(view(out, static_cast<std::int64_t>(ids.size()), cols), wm, ids);
    for (std::size_t i = 0; i < ids.size(); ++i)
      for (std::int64_t c = 0; c < cols; ++c)
        expected[i * cols + c] = load_f32(w.view(), ids[i] * cols + c);
    EXPECT_EQ(rel_error(out, expected), 0.0);
  }
  const auto blocks = random_blocks(WeightType::q8_0, rows, cols);
  std::vector<float> out(cols);
  const std::vector<std::int32_t> bad{static_cast<std::int32_t>(rows)};
  EXPECT_THROW(embedding(view(out, 1, cols), {WeightType::q8_0, rows, cols, blocks}, bad), Error);
}

}  // namespace
}  // namespace klab::cpu
