// Matrix products y[M, N] = x[M, K] . W[N, K]^T, dense and quantized, f64 accumulation.
#include <string>
#include <vector>

#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

namespace {

// x: [M, K], y: [M, N] for a weight of n_rows x k_cols.
void check_operands(std::string_view op, const TensorView& y, const TensorView& x,
                    std::int64_t n_rows, std::int64_t k_cols) {
  detail::expect_host_float(op, "x", x, 2);
  detail::expect_host_float(op, "y", y, 2);
  check_arg(
      x.dim(1) == k_cols, op, "x",
      "expected " + std::to_string(k_cols) + " columns (K of the weight), got " + shape_str(x));
  expect_shape(op, "y", y, {x.dim(0), n_rows});
}

// y[:, n] = x . w_row for one weight row already in f32.
void write_column(const TensorView& y, const TensorView& x, std::int64_t n,
                  const std::vector<float>& w_row) {
  for (std::int64_t m = 0; m < x.dim(0); ++m) {
    double acc = 0.0;
    for (std::int64_t k = 0; k < x.dim(1); ++k)
      acc += double(detail::load(x, {m, k})) * w_row[static_cast<std::size_t>(k)];
    detail::store(y, {m, n}, acc);
  }
}

}  // namespace

void matmul(const TensorView& y, const TensorView& x, const TensorView& w) {
  constexpr std::string_view op = "matmul";
  detail::expect_host_float(op, "w", w, 2);
  check_operands(op, y, x, w.dim(0), w.dim(1));
  std::vector<float> w_row(static_cast<std::size_t>(w.dim(1)));
  for (std::int64_t n = 0; n < w.dim(0); ++n) {
    for (std::int64_t k = 0; k < w.dim(1); ++k)
      w_row[static_cast<std::size_t>(k)] = detail::load(w, {n, k});
    write_column(y, x, n, w_row);
  }
}

// Each weight row is dequantized to f32 first (QuantMatrix::value), so the result equals
// dequantize() into an f32 matrix followed by matmul().
void quant_matmul(const TensorView& y, const TensorView& x, const QuantMatrix& w) {
  constexpr std::string_view op = "quant_matmul";
  w.validate(op);
  check_operands(op, y, x, w.rows, w.cols);
  std::vector<float> w_row(static_cast<std::size_t>(w.cols));
  for (std::int64_t n = 0; n < w.rows; ++n) {
    for (std::int64_t k = 0; k < w.cols; ++k) w_row[static_cast<std::size_t>(k)] = w.value(n, k);
    write_column(y, x, n, w_row);
  }
}

}  // namespace klab::ref
