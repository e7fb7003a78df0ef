// Argument checks and entry points of the engine's glue kernels.
#include <cstdint>
#include <string>

#include "cuda/model/model_params.hpp"
#include "klab/cuda/model_kernels.hpp"

namespace klab::cuda {

namespace {

// A device [T, N] matrix of `dtype` with free row stride and unit inner stride.
void expect_rows(std::string_view op, std::string_view arg, const TensorView& t, DType dtype) {
  expect_rank(op, arg, t, 2);
  expect_device(op, arg, t, Device::cuda);
  expect_dtype(op, arg, t, dtype);
  expect_nonnull(op, arg, t);
  check_arg(t.stride[1] == 1 || t.dim(1) <= 1, op, arg, "expected a unit inner stride");
  check_arg(t.dim(0) <= 1 || t.stride[0] >= t.dim(1), op, arg, "rows overlap (stride < N)");
  check_arg(t.dim(0) <= 0x7fffffff, op, arg, "too many rows for one grid: " + shape_str(t));
}

void expect_vector(std::string_view op, std::string_view arg, const TensorView& t, DType dtype,
                   std::int64_t n) {
  expect_rank(op, arg, t, 1);
  expect_device(op, arg, t, Device::cuda);
  expect_dtype(op, arg, t, dtype);
  expect_nonnull(op, arg, t);
  expect_contiguous(op, arg, t);
  expect_dim(op, arg, t, 0, n);
}

}  // namespace

void embedding_rows(const EmbeddingArgs& a, cudaStream_t stream) {
  constexpr std::string_view op = "embedding_rows";
  expect_rows(op, "out", a.out, DType::f32);
  const std::int64_t tokens = a.out.dim(0), cols = a.out.dim(1);
  expect_vector(op, "ids", a.ids, DType::i32, tokens);
  check_arg((a.quant.codes != nullptr) != (a.dense.data != nullptr), op, "quant",
            "exactly one of 'quant' and 'dense' must be given");
  model_glue::EmbeddingParams p;
  p.out = a.out.ptr<float>();
  p.out_stride = a.out.stride[0];
  p.ids = a.ids.ptr<const std::int32_t>();
  p.tokens = tokens;
  p.cols = cols;
  if (a.quant.codes) {
    const QuantPlainView& q = a.quant;
    check_arg(q.cols == cols, op, "quant",
              "has " + std::to_string(q.cols) + " columns, out " + shape_str(a.out));
    check_arg((q.bits == 4 || q.bits == 8) && q.group > 0 && cols % q.group == 0 &&
                  q.scales != nullptr && (q.mins != nullptr) == q.asymmetric && q.rows > 0,
              op, "quant", "inconsistent quantized table (bits, group, scales or mins)");
    p.quant = q;
    p.rows = q.rows;
  } else {
    expect_rank(op, "dense", a.dense, 2);
    expect_device(op, "dense", a.dense, Device::cuda);
    expect_dtype(op, "dense", a.dense, DType::f16);
    expect_contiguous(op, "dense", a.dense);
    expect_dim(op, "dense", a.dense, 1, cols);
    p.dense = a.dense.ptr<const std::uint16_t>();
    p.rows = a.dense.dim(0);
  }
  model_glue::launch_embedding_rows(p, stream);
}

void rmsnorm_to_half(const RmsNormToHalfArgs& a, cudaStream_t stream) {
  constexpr std::string_view op = "rmsnorm_to_half";
  expect_rows(op, "x", a.x, DType::f32);
  expect_rows(op, "out", a.out, DType::f16);
  check_arg(a.out.dim(0) == a.x.dim(0) && a.out.dim(1) == a.x.dim(1), op, "out",
            "expected the shape of x " + shape_str(a.x) + ", got " + shape_str(a.out));
  check_arg(a.x.dim(1) > 0, op, "x", "expected H > 0");
  expect_vector(op, "weight", a.weight, DType::f32, a.x.dim(1));
  check_arg(a.eps >= 0.0f && a.eps < 1.0f, op, "eps",
            "expected a value in [0, 1), got " + std::to_string(a.eps));
  model_glue::launch_rmsnorm_to_half({.out = a.out.ptr<std::uint16_t>(),
                                      .x = a.x.ptr<const float>(),
                                      .weight = a.weight.ptr<const float>(),
                                      .rows = a.x.dim(0),
                                      .cols = a.x.dim(1),
                                      .out_stride = a.out.stride[0],
                                      .x_stride = a.x.stride[0],
                                      .eps = a.eps,
                                      .pdl = a.pdl},
                                     stream);
}

void add_bias(const AddBiasArgs& a, cudaStream_t stream) {
  constexpr std::string_view op = "add_bias";
  expect_rows(op, "y", a.y, DType::f16);
  expect_vector(op, "bias", a.bias, DType::f32, a.y.dim(1));
  model_glue::launch_add_bias({.y = a.y.ptr<std::uint16_t>(),
                               .bias = a.bias.ptr<const float>(),
                               .rows = a.y.dim(0),
                               .cols = a.y.dim(1),
                               .y_stride = a.y.stride[0]},
                              stream);
}

void l2_prefetch(const L2PrefetchArgs& a, cudaStream_t stream) {
  model_glue::L2PrefetchParams p;
  p.ranges = l2_ranges_of(a.ranges, "l2_prefetch");
  p.pdl = a.pdl;
  if (p.ranges.total > 0) model_glue::launch_l2_prefetch(p, stream);
}

}  // namespace klab::cuda
