// Row-wise f32 ops of a Llama block. They are cheap next to the matrix products, so they run on
// the calling thread; the loops are simple enough for the compiler to vectorize.
#include <cmath>
#include <string>

#include "klab/cpu_ops.hpp"
#include "klab/error.hpp"

namespace klab::cpu {
namespace {

void expect_rows_f32(std::string_view op, std::string_view arg, const TensorView& t) {
  expect_dtype(op, arg, t, DType::f32);
  expect_rank(op, arg, t, 2);
  check_arg(t.stride[1] == 1, op, arg, "rows must be contiguous");
}

float* row_ptr(const TensorView& t, std::int64_t r) {
  return t.ptr<float>() + r * t.stride[0];
}

}  // namespace

void rmsnorm(const TensorView& out, const TensorView& x, const TensorView& weight, float eps) {
  constexpr std::string_view op = "cpu::rmsnorm";
  expect_rows_f32(op, "x", x);
  expect_rows_f32(op, "out", out);
  expect_shape(op, "out", out, {x.dim(0), x.dim(1)});
  expect_dtype(op, "weight", weight, DType::f32);
  expect_shape(op, "weight", weight, {x.dim(1)});
  const std::int64_t h = x.dim(1);
  const float* w = weight.ptr<float>();
  for (std::int64_t t = 0; t < x.dim(0); ++t) {
    const float* xr = row_ptr(x, t);
    float* o = row_ptr(out, t);
    double sum_sq = 0;
    for (std::int64_t i = 0; i < h; ++i) sum_sq += static_cast<double>(xr[i]) * xr[i];
    const auto inv_rms = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(h) + eps));
    for (std::int64_t i = 0; i < h; ++i) o[i] = xr[i] * inv_rms * w[i];
  }
}

void add_inplace(const TensorView& acc, const TensorView& x) {
  constexpr std::string_view op = "cpu::add_inplace";
  expect_dtype(op, "acc", acc, DType::f32);
  expect_dtype(op, "x", x, DType::f32);
  expect_contiguous(op, "acc", acc);
  expect_contiguous(op, "x", x);
  check_arg(acc.numel() == x.numel(), op, "x",
            "expected " + shape_str(acc) + ", got " + shape_str(x));
  float* a = acc.ptr<float>();
  const float* b = x.ptr<float>();
  for (std::int64_t i = 0; i < acc.numel(); ++i) a[i] += b[i];
}

void add_bias(const TensorView& y, const TensorView& bias) {
  constexpr std::string_view op = "cpu::add_bias";
  expect_rows_f32(op, "y", y);
  expect_dtype(op, "bias", bias, DType::f32);
  expect_shape(op, "bias", bias, {y.dim(1)});
  const float* b = bias.ptr<float>();
  for (std::int64_t t = 0; t < y.dim(0); ++t) {
    float* row = row_ptr(y, t);
    for (std::int64_t i = 0; i < y.dim(1); ++i) row[i] += b[i];
  }
}

void swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) {
  constexpr std::string_view op = "cpu::swiglu";
  expect_rows_f32(op, "gate", gate);
  expect_rows_f32(op, "up", up);
  expect_rows_f32(op, "out", out);
  expect_shape(op, "up", up, {gate.dim(0), gate.dim(1)});
  expect_shape(op, "out", out, {gate.dim(0), gate.dim(1)});
  for (std::int64_t t = 0; t < gate.dim(0); ++t) {
    const float* g = row_ptr(gate, t);
    const float* u = row_ptr(up, t);
    float* o = row_ptr(out, t);
    for (std::int64_t i = 0; i < gate.dim(1); ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
}

void rope(const TensorView& x, std::span<const std::int32_t> positions,
          std::span<const float> inv_freq, RopeStyle style) {
  constexpr std::string_view op = "cpu::rope";
  expect_dtype(op, "x", x, DType::f32);
  expect_rank(op, "x", x, 3);
  const std::int64_t heads = x.dim(1), head_dim = x.dim(2);
  check_arg(x.stride[2] == 1 && x.stride[1] == head_dim, op, "x", "heads must be contiguous");
  check_arg(static_cast<std::int64_t>(positions.size()) == x.dim(0), op, "positions",
            "expected " + std::to_string(x.dim(0)) + ", got " + std::to_string(positions.size()));
  const auto pairs = static_cast<std::int64_t>(inv_freq.size());
  check_arg(
      2 * pairs <= head_dim, op, "inv_freq",
      "rotates " + std::to_string(2 * pairs) + " dims of a head of " + std::to_string(head_dim));
  std::vector<float> cos_sin(static_cast<std::size_t>(2 * pairs));
  for (std::int64_t t = 0; t < x.dim(0); ++t) {
    for (std::int64_t i = 0; i < pairs; ++i) {
      // The angle is the f32 product, as HF computes it; sin and cos of it in f64.
      const double angle = static_cast<float>(positions[t]) * inv_freq[i];
      cos_sin[2 * i] = static_cast<float>(std::cos(angle));
      cos_sin[2 * i + 1] = static_cast<float>(std::sin(angle));
    }
    for (std::int64_t h = 0; h < heads; ++h) {
      float* v = x.ptr<float>() + t * x.stride[0] + h * head_dim;
      for (std::int64_t i = 0; i < pairs; ++i) {
        const std::int64_t a = style == RopeStyle::interleaved ? 2 * i : i;
        const std::int64_t b = style == RopeStyle::interleaved ? 2 * i + 1 : i + pairs;
        const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
      }
    }
  }
}

}  // namespace klab::cpu
