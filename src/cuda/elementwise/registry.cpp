// The elementwise family (SwiGLU, residual add): argument checks, the variant ladder and the
// auto choice.
#include <string>
#include <utility>

#include "cuda/common/launch_util.hpp"
#include "cuda/elementwise/ew_params.hpp"
#include "klab/cuda/elementwise.hpp"
#include "registry/autotune_buckets.hpp"

namespace klab::cuda {

namespace {

using elementwise::BinaryOp;
using elementwise::EwParams;

// [rows, cols] shape and row stride of a rank-1 or rank-2 view.
struct Rows {
  std::int64_t rows, cols, stride;
};
Rows rows_of(const TensorView& t) {
  if (t.rank == 1) return {1, t.dim(0), t.dim(0)};
  return {t.dim(0), t.dim(1), t.stride[0]};
}

std::pair<const char*, const char*> extent(const TensorView& t) {
  const Rows r = rows_of(t);
  const auto* begin = static_cast<const char*>(t.data);
  const std::int64_t elems = r.rows == 0 ? 0 : (r.rows - 1) * r.stride + r.cols;
  return {begin, begin + elems * static_cast<std::int64_t>(dtype_size(t.dtype))};
}

void check_operand(std::string_view op, std::string_view arg, const TensorView& t,
                   const TensorView& like) {
  check_arg(t.rank == 1 || t.rank == 2, op, arg,
            "expected rank 1 or 2, got rank " + std::to_string(t.rank));
  expect_nonnull(op, arg, t);
  expect_device(op, arg, t, Device::cuda);
  expect_float_dtype(op, arg, t);
  expect_dtype(op, arg, t, like.dtype);
  bool same = t.rank == like.rank;
  for (int d = 0; same && d < t.rank; ++d) same = t.dim(d) == like.dim(d);
  check_arg(same, op, arg, "expected shape " + shape_str(like) + ", got " + shape_str(t));
  const Rows r = rows_of(t);
  check_arg(t.stride[t.rank - 1] == 1 || r.cols <= 1, op, arg,
            "expected a unit stride along the last dim");
  check_arg(r.rows <= 1 || r.stride >= r.cols, op, arg, "rows overlap (stride < row length)");
}

// out is exactly `in` (same pointer and strides: each element is read before it is written
// by the same thread) or disjoint from it.
void check_alias(std::string_view op, const TensorView& out, const TensorView& in,
                 std::string_view in_name) {
  if (out.data == in.data && rows_of(out).stride == rows_of(in).stride) return;
  const auto [a0, a1] = extent(out);
  const auto [b0, b1] = extent(in);
  check_arg(a1 <= b0 || b1 <= a0, op, "out",
            "overlaps '" + std::string(in_name) + "' without being exactly it");
}

void check_binary(std::string_view op, const TensorView& out, const TensorView& a,
                  std::string_view a_name, const TensorView& b, std::string_view b_name) {
  check_operand(op, a_name, a, a);
  check_operand(op, b_name, b, a);
  check_operand(op, "out", out, a);
  check_alias(op, out, a, a_name);
  check_alias(op, out, b, b_name);
}

EwParams params_of(const TensorView& out, const TensorView& a, const TensorView& b, BinaryOp op) {
  const Rows ro = rows_of(out), ra = rows_of(a), rb = rows_of(b);
  const bool contiguous =
      ro.rows <= 1 || (ro.stride == ro.cols && ra.stride == ra.cols && rb.stride == rb.cols);
  if (contiguous)
    return {.out = out.data,
            .a = a.data,
            .b = b.data,
            .rows = 1,
            .cols = ro.rows * ro.cols,
            .out_stride = 0,
            .a_stride = 0,
            .b_stride = 0,
            .dtype = a.dtype,
            .op = op};
  return {.out = out.data,
          .a = a.data,
          .b = b.data,
          .rows = ro.rows,
          .cols = ro.cols,
          .out_stride = ro.stride,
          .a_stride = ra.stride,
          .b_stride = rb.stride,
          .dtype = a.dtype,
          .op = op};
}

EwParams params_of(const SwigluArgs& x) {
  return params_of(x.out, x.gate, x.up, BinaryOp::silu_mul);
}
EwParams params_of(const ResidualAddArgs& x) {
  return params_of(x.out, x.a, x.b, BinaryOp::add);
}

struct Rung {
  const char* name;
  const char* description;
  bool (*supports)(const EwParams&);
  void (*launch)(const EwParams&, cudaStream_t);
};

bool always(const EwParams&) {
  return true;
}

constexpr Rung kLadder[] = {
    {"naive", "thread per element, scalar", always, elementwise::launch_naive},
    {"vec16", "thread per 16-byte vector", elementwise::vectorizable, elementwise::launch_vec16},
    {"vec16_x4", "thread per four 16-byte vectors, loads batched before math",
     elementwise::vectorizable, elementwise::launch_vec16_x4},
};

template <class Args>
registry::OpRegistry<Args> build(std::string op) {
  registry::OpRegistry<Args> reg(std::move(op));
  for (const Rung& r : kLadder) {
    reg.add({.name = r.name,
             .description = r.description,
             .supports = [s = r.supports](const Args& a) { return s(params_of(a)); },
             .launch =
                 [l = r.launch](const Args& a, cudaStream_t stream) {
                   validate(a);
                   l(params_of(a), stream);
                 }});
  }
  // Below ~a wave of 4-vector blocks the one-vector rung spreads the few bytes over more
  // threads (H100, T = 1, F = 4096: vec16 2.0-2.5 us, vec16_x4 2.3-3.3 us).
  reg.set_auto([](const Args& a) -> std::string {
    const EwParams p = params_of(a);
    if (!elementwise::vectorizable(p)) return "naive";
    return p.rows * p.cols < (std::int64_t{1} << 20) ? "vec16" : "vec16_x4";
  });
  reg.set_bucket([](const Args& a) { return tune_bucket(a); });  // autotune (klab/autotune.hpp)
  return reg;
}

}  // namespace

void validate(const SwigluArgs& a) {
  check_binary("swiglu", a.out, a.gate, "gate", a.up, "up");
}

void validate(const ResidualAddArgs& a) {
  check_binary("residual_add", a.out, a.a, "a", a.b, "b");
}

const registry::OpRegistry<SwigluArgs>& swiglu_registry() {
  static const auto reg = build<SwigluArgs>("swiglu");
  return reg;
}

const registry::OpRegistry<ResidualAddArgs>& residual_add_registry() {
  static const auto reg = build<ResidualAddArgs>("residual_add");
  return reg;
}

void swiglu(const SwigluArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  swiglu_registry().run(args, stream, variant);
}

void residual_add(const ResidualAddArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  residual_add_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
