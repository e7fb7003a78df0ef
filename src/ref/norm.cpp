// RMSNorm and RMSNorm fused with a residual add.
#include <cmath>
#include <vector>

#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

namespace {

void check_norm_args(std::string_view op, const TensorView& out, const TensorView& x,
                     const TensorView& weight, float eps) {
  detail::expect_host_float(op, "x", x, 2);
  detail::expect_host_float(op, "out", out, 2);
  detail::expect_same_shape(op, "out", out, x);
  detail::expect_host_float(op, "weight", weight, 1);
  expect_dim(op, "weight", weight, 0, x.dim(1));
  check_arg(std::isfinite(eps) && eps >= 0.0f, op, "eps",
            "expected a finite value >= 0, got " + std::to_string(eps));
}

// Normalises one row held in f64 and writes it to out row t. Reading the row first makes
// out == x (in place) safe.
void write_normalized_row(const TensorView& out, std::int64_t t, const std::vector<double>& row,
                          const TensorView& weight, float eps) {
  double sum_sq = 0.0;
  for (double v : row) sum_sq += v * v;
  const double inv_rms = 1.0 / std::sqrt(sum_sq / static_cast<double>(row.size()) + eps);
  for (std::size_t h = 0; h < row.size(); ++h) {
    const auto hh = static_cast<std::int64_t>(h);
    detail::store(out, {t, hh}, row[h] * inv_rms * detail::load(weight, {hh}));
  }
}

}  // namespace

void rmsnorm(const TensorView& out, const TensorView& x, const TensorView& weight, float eps) {
  check_norm_args("rmsnorm", out, x, weight, eps);
  std::vector<double> row(static_cast<std::size_t>(x.dim(1)));
  for (std::int64_t t = 0; t < x.dim(0); ++t) {
    for (std::int64_t h = 0; h < x.dim(1); ++h)
      row[static_cast<std::size_t>(h)] = detail::load(x, {t, h});
    write_normalized_row(out, t, row, weight, eps);
  }
}

// The norm reads the residual as stored (rounded to its dtype), so the fused op equals
// residual_add followed by rmsnorm.
void add_rmsnorm(const TensorView& out, const TensorView& residual, const TensorView& x,
                 const TensorView& weight, float eps) {
  constexpr std::string_view op = "add_rmsnorm";
  check_norm_args(op, out, x, weight, eps);
  detail::expect_host_float(op, "residual", residual, 2);
  detail::expect_same_shape(op, "residual", residual, x);
  std::vector<double> row(static_cast<std::size_t>(x.dim(1)));
  for (std::int64_t t = 0; t < x.dim(0); ++t) {
    for (std::int64_t h = 0; h < x.dim(1); ++h) {
      const double sum = double(detail::load(residual, {t, h})) + detail::load(x, {t, h});
      detail::store(residual, {t, h}, sum);
      row[static_cast<std::size_t>(h)] = detail::load(residual, {t, h});
    }
    write_normalized_row(out, t, row, weight, eps);
  }
}

}  // namespace klab::ref
