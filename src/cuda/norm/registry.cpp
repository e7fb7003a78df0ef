// The RMSNorm family: argument checks, the variant ladder and the auto choice.
#include <algorithm>
#include <string>
#include <utility>

#include "cuda/common/launch_util.hpp"
#include "cuda/norm/norm_params.hpp"
#include "klab/cuda/norm.hpp"
#include "registry/autotune_buckets.hpp"

namespace klab::cuda {

namespace {

using norm::NormParams;

void check_activation(std::string_view op, std::string_view arg, const TensorView& t,
                      const TensorView& like) {
  expect_rank(op, arg, t, 2);
  expect_device(op, arg, t, Device::cuda);
  expect_dtype(op, arg, t, like.dtype);
  check_arg(t.dim(0) == like.dim(0) && t.dim(1) == like.dim(1), op, arg,
            "expected shape " + shape_str(like) + ", got " + shape_str(t));
  check_arg(t.stride[1] == 1 || t.dim(1) <= 1, op, arg, "expected a unit stride along H");
  check_arg(t.stride[0] >= t.dim(1) || t.dim(0) <= 1, op, arg, "rows overlap (stride < H)");
}

// Byte range a [rows, H] view touches.
std::pair<const char*, const char*> extent(const TensorView& t) {
  const auto* begin = static_cast<const char*>(t.data);
  const std::int64_t elems = t.dim(0) == 0 ? 0 : (t.dim(0) - 1) * t.stride[0] + t.dim(1);
  return {begin, begin + elems * static_cast<std::int64_t>(dtype_size(t.dtype))};
}

void check_no_overlap(std::string_view op, std::string_view arg, const TensorView& out,
                      const TensorView& in, std::string_view in_name) {
  const auto [a0, a1] = extent(out);
  const auto [b0, b1] = extent(in);
  check_arg(a1 <= b0 || b1 <= a0, op, arg,
            "must not overlap '" + std::string(in_name) + "' (no in-place variant)");
}

void check_common(std::string_view op, const TensorView& out, const TensorView& x,
                  const TensorView& weight, float eps) {
  expect_rank(op, "x", x, 2);
  expect_float_dtype(op, "x", x);
  check_activation(op, "x", x, x);
  check_activation(op, "out", out, x);
  check_no_overlap(op, "out", out, x, "x");
  check_arg(x.dim(1) > 0, op, "x", "expected H > 0, got " + shape_str(x));
  check_arg(x.dim(0) <= 0x7fffffff, op, "x", "too many rows for one grid: " + shape_str(x));
  expect_rank(op, "weight", weight, 1);
  expect_device(op, "weight", weight, Device::cuda);
  expect_dim(op, "weight", weight, 0, x.dim(1));
  expect_contiguous(op, "weight", weight);
  check_arg(weight.dtype == x.dtype || weight.dtype == DType::f32, op, "weight",
            "expected dtype f32 or " + std::string(dtype_name(x.dtype)) + ", got " +
                std::string(dtype_name(weight.dtype)));
  check_arg(eps >= 0.0f && eps < 1.0f, op, "eps",
            "expected a value in [0, 1), got " + std::to_string(eps));
}

NormParams params_of(const RmsNormArgs& a) {
  return {.out = a.out.data,
          .x = a.x.data,
          .residual = nullptr,
          .weight = a.weight.data,
          .rows = a.x.dim(0),
          .cols = a.x.dim(1),
          .out_stride = a.out.stride[0],
          .x_stride = a.x.stride[0],
          .residual_stride = 0,
          .eps = a.eps,
          .act = a.x.dtype,
          .weight_dtype = a.weight.dtype};
}

NormParams params_of(const AddRmsNormArgs& a) {
  NormParams p = params_of(RmsNormArgs{a.out, a.x, a.weight, a.eps});
  p.residual = a.residual.data;
  p.residual_stride = a.residual.stride[0];
  return p;
}

struct Rung {
  const char* name;
  const char* description;
  bool (*supports)(const NormParams&);
  void (*launch)(const NormParams&, cudaStream_t);
};

bool always(const NormParams&) {
  return true;
}

constexpr Rung kLadder[] = {
    {"naive", "block per row, scalar loads, two passes", always, norm::launch_naive},
    {"vec16", "block per row, 16-byte loads, two passes (second from L1)", norm::vectorizable,
     norm::launch_vec16},
    {"vec16_regs", "block per row, 16-byte loads, row in registers: one pass", norm::regs_supports,
     norm::launch_vec16_regs},
    {"vec16_prefetch", "persistent vec16_regs, next row's loads issued before this row's reduction",
     norm::prefetch_supports, norm::launch_vec16_prefetch},
    {"warp_per_row", "warp per row, 16-byte loads, row in registers (H <= 256 vectors)",
     norm::warp_supports, norm::launch_warp_per_row},
};

// Short rows: a block per row would be mostly idle threads, so a warp per row. Otherwise
// vec16: on an H100 at H = 4096 it is the fastest rung or within 3% of it for every T measured
// (1 and 4096, rmsnorm and add_rmsnorm, f16 and bf16; docs/kernels/elementwise.md, run 2);
// keeping the row in registers (vec16_regs) or prefetching the next row (vec16_prefetch)
// bought nothing there. The scalar rung only for unaligned or odd H.
std::string auto_choice(const NormParams& p) {
  const std::int64_t vec = 16 / static_cast<std::int64_t>(dtype_size(p.act));
  if (norm::warp_supports(p) && p.cols / vec <= 128) return "warp_per_row";
  if (norm::vectorizable(p)) return "vec16";
  return "naive";
}

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
  reg.set_auto([](const Args& a) { return auto_choice(params_of(a)); });
  reg.set_bucket([](const Args& a) { return tune_bucket(a); });  // autotune (klab/autotune.hpp)
  return reg;
}

}  // namespace

bool norm::vectorizable(const NormParams& p) {
  const auto act = static_cast<std::int64_t>(dtype_size(p.act));
  const std::int64_t vec = 16 / act;
  const bool rows_ok = p.cols % vec == 0 && p.out_stride % vec == 0 && p.x_stride % vec == 0 &&
                       (!p.residual || p.residual_stride % vec == 0);
  const bool ptrs_ok =
      is_aligned(p.out, 16) && is_aligned(p.x, 16) && is_aligned(p.residual, 16) &&
      is_aligned(p.weight, dtype_size(p.weight_dtype) * static_cast<std::size_t>(vec));
  return rows_ok && ptrs_ok;
}

void validate(const RmsNormArgs& a) {
  check_common("rmsnorm", a.out, a.x, a.weight, a.eps);
}

void validate(const AddRmsNormArgs& a) {
  constexpr std::string_view op = "add_rmsnorm";
  check_common(op, a.out, a.x, a.weight, a.eps);
  check_activation(op, "residual", a.residual, a.x);
  check_no_overlap(op, "out", a.out, a.residual, "residual");
  check_no_overlap(op, "residual", a.residual, a.x, "x");
}

const registry::OpRegistry<RmsNormArgs>& rmsnorm_registry() {
  static const auto reg = build<RmsNormArgs>("rmsnorm");
  return reg;
}

const registry::OpRegistry<AddRmsNormArgs>& add_rmsnorm_registry() {
  static const auto reg = build<AddRmsNormArgs>("add_rmsnorm");
  return reg;
}

void rmsnorm(const RmsNormArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  rmsnorm_registry().run(args, stream, variant);
}

void add_rmsnorm(const AddRmsNormArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  add_rmsnorm_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
