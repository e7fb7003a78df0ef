// The q8-activation quantized product: x quantized per 32-element block to int8 (llama.cpp's
// Q8_1), then exact integer block dots against the weight codes, scaled in f64. The oracle of
// GPU kernels that multiply int8 activations with __dp4a (cuda gemv_q `dp4a`).
#include <cmath>
#include <string>
#include <vector>

#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

namespace {

constexpr std::int64_t kBlock = 32;

// One block of one row: d and x8 exactly as a kernel computes them in f32.
void quantize_block(const TensorView& x, std::int64_t row, std::int64_t block, Q8Blocks& out) {
  const std::int64_t k0 = block * kBlock;
  float v[kBlock];
  float amax = 0.0f;
  for (std::int64_t i = 0; i < kBlock; ++i) {
    v[i] = detail::load(x, {row, k0 + i});
    amax = std::fmax(amax, std::fabs(v[i]));  // NaN inputs are skipped here, kept below
  }
  const float d = amax / 127.0f;
  const float inv = d == 0.0f ? 0.0f : 1.0f / d;
  std::int32_t sum = 0;
  bool finite = std::isfinite(d);
  for (std::int64_t i = 0; i < kBlock; ++i) {
    const float scaled = v[i] * inv;
    finite = finite && std::isfinite(scaled);
    const auto q = std::isfinite(scaled) ? static_cast<std::int32_t>(std::nearbyint(scaled)) : 0;
    out.q[static_cast<std::size_t>(row * out.cols + k0 + i)] = static_cast<std::int8_t>(q);
    sum += q;
  }
  const auto b = static_cast<std::size_t>(row * (out.cols / kBlock) + block);
  // A non-finite x makes the block's d NaN, so every product that uses the block is NaN.
  out.d[b] = finite ? d : NAN;
  out.sum[b] = sum;
}

}  // namespace

Q8Blocks quantize_q8_blocks(const TensorView& x) {
  constexpr std::string_view op = "quantize_q8_blocks";
  detail::expect_host_float(op, "x", x, 2);
  check_arg(x.dim(1) % kBlock == 0, op, "x",
            "expected a multiple of 32 columns, got " + shape_str(x));
  Q8Blocks out;
  out.rows = x.dim(0);
  out.cols = x.dim(1);
  out.q.resize(static_cast<std::size_t>(out.rows * out.cols));
  out.d.resize(static_cast<std::size_t>(out.rows * out.cols / kBlock));
  out.sum.resize(out.d.size());
  for (std::int64_t r = 0; r < out.rows; ++r)
    for (std::int64_t b = 0; b < out.cols / kBlock; ++b) quantize_block(x, r, b, out);
  return out;
}

void quant_matmul_q8act(const TensorView& y, const TensorView& x, const QuantMatrix& w) {
  constexpr std::string_view op = "quant_matmul_q8act";
  w.validate(op);
  detail::expect_host_float(op, "x", x, 2);
  detail::expect_host_float(op, "y", y, 2);
  check_arg(
      x.dim(1) == w.cols, op, "x",
      "expected " + std::to_string(w.cols) + " columns (K of the weight), got " + shape_str(x));
  expect_shape(op, "y", y, {x.dim(0), w.rows});
  const Q8Blocks xq = quantize_q8_blocks(x);
  const std::int64_t K = w.cols, blocks = K / kBlock, blocks_per_group = w.format.group / kBlock;
  std::vector<std::int32_t> codes(static_cast<std::size_t>(K));
  for (std::int64_t n = 0; n < w.rows; ++n) {
    for (std::int64_t k = 0; k < K; ++k) codes[static_cast<std::size_t>(k)] = w.code(n, k);
    for (std::int64_t m = 0; m < xq.rows; ++m) {
      const std::int8_t* x8 = xq.q.data() + m * K;
      double acc = 0.0;
      for (std::int64_t b = 0; b < blocks; ++b) {
        std::int64_t dot = 0;
        for (std::int64_t k = b * kBlock; k < (b + 1) * kBlock; ++k)
          dot += std::int64_t{codes[static_cast<std::size_t>(k)]} * x8[k];
        const auto g = static_cast<std::size_t>(n * w.groups_per_row() + b / blocks_per_group);
        const auto xb = static_cast<std::size_t>(m * blocks + b);
        const double d = xq.d[xb];
        acc += double(f16_bits_to_f32(w.scales[g])) * d * static_cast<double>(dot);
        if (w.format.asymmetric) acc += double(f16_bits_to_f32(w.mins[g])) * d * xq.sum[xb];
      }
      detail::store(y, {m, n}, acc);
    }
  }
}

}  // namespace klab::ref
