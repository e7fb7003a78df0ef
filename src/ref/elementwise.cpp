// Elementwise and row-wise ops: residual add, SwiGLU, softmax.
#include <cmath>
#include <limits>
#include <vector>

#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

namespace {

void expect_host_float_any_rank(std::string_view op, std::string_view arg, const TensorView& t) {
  expect_device(op, arg, t, Device::cpu);
  expect_float_dtype(op, arg, t);
  check_arg(t.rank >= 1 && t.rank <= kMaxRank, op, arg,
            "expected rank 1..4, got rank " + std::to_string(t.rank));
  expect_nonnull(op, arg, t);
}

double silu(double g) {
  return g / (1.0 + std::exp(-g));
}

}  // namespace

void residual_add(const TensorView& out, const TensorView& a, const TensorView& b) {
  constexpr std::string_view op = "residual_add";
  expect_host_float_any_rank(op, "a", a);
  expect_host_float_any_rank(op, "b", b);
  expect_host_float_any_rank(op, "out", out);
  detail::expect_same_shape(op, "b", b, a);
  detail::expect_same_shape(op, "out", out, a);
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double sum =
        double(load_f32(a, detail::flat_offset(a, i))) + load_f32(b, detail::flat_offset(b, i));
    store_f32(out, detail::flat_offset(out, i), static_cast<float>(sum));
  }
}

void swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) {
  constexpr std::string_view op = "swiglu";
  detail::expect_host_float(op, "gate", gate, 2);
  detail::expect_host_float(op, "up", up, 2);
  detail::expect_host_float(op, "out", out, 2);
  detail::expect_same_shape(op, "up", up, gate);
  detail::expect_same_shape(op, "out", out, gate);
  for (std::int64_t t = 0; t < gate.dim(0); ++t)
    for (std::int64_t f = 0; f < gate.dim(1); ++f)
      detail::store(out, {t, f}, silu(detail::load(gate, {t, f})) * detail::load(up, {t, f}));
}

// A row of all -inf has no defined softmax and yields NaN, as in PyTorch.
void softmax(const TensorView& out, const TensorView& x) {
  constexpr std::string_view op = "softmax";
  detail::expect_host_float(op, "x", x, 2);
  detail::expect_host_float(op, "out", out, 2);
  detail::expect_same_shape(op, "out", out, x);
  check_arg(x.dim(1) >= 1, op, "x", "expected at least one column, got " + shape_str(x));
  std::vector<double> row(static_cast<std::size_t>(x.dim(1)));
  for (std::int64_t r = 0; r < x.dim(0); ++r) {
    double max = -std::numeric_limits<double>::infinity();
    for (std::int64_t c = 0; c < x.dim(1); ++c) {
      row[static_cast<std::size_t>(c)] = detail::load(x, {r, c});
      max = std::max(max, row[static_cast<std::size_t>(c)]);
    }
    double sum = 0.0;
    for (double& v : row) sum += (v = std::exp(v - max));
    for (std::int64_t c = 0; c < x.dim(1); ++c)
      detail::store(out, {r, c}, row[static_cast<std::size_t>(c)] / sum);
  }
}

}  // namespace klab::ref
