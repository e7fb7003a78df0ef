// The RoPE family: argument checks, the variant ladder and the auto choice.
#include <string>

#include "cuda/common/launch_util.hpp"
#include "cuda/common/rope_check.hpp"
#include "cuda/rope/rope_params.hpp"
#include "klab/cuda/rope.hpp"
#include "registry/autotune_buckets.hpp"

namespace klab::cuda {

namespace {

using rope_kernels::RopeParams;

RopeParams params_of(const RopeArgs& a) {
  const int head_dim = static_cast<int>(a.x.dim(2));
  return {.x = a.x.data,
          .positions = a.positions.ptr<const std::int32_t>(),
          .inv_freq = static_cast<const float*>(a.freqs.inv_freq.data),
          .tokens = a.x.dim(0),
          .heads = static_cast<int>(a.x.dim(1)),
          .head_dim = head_dim,
          .rot_dim = resolve_rot_dim("rope", a.freqs, head_dim),
          .token_stride = a.x.stride[0],
          .theta = a.freqs.theta,
          .half_split = a.freqs.style == RopeStyle::half_split,
          .dtype = a.x.dtype};
}

struct Rung {
  const char* name;
  const char* description;
  bool (*supports)(const RopeParams&);
  void (*launch)(const RopeParams&, cudaStream_t);
};

bool always(const RopeParams&) {
  return true;
}

constexpr Rung kLadder[] = {
    {"naive", "thread per rotated pair, scalar, sin/cos per pair", always,
     rope_kernels::launch_naive},
    {"vec16", "thread per 16-byte unit, sin/cos per pair", rope_kernels::vectorizable,
     rope_kernels::launch_vec16},
    {"cached_sincos", "block per token, sin/cos once per token in shared memory, 16-byte units",
     rope_kernels::vectorizable, rope_kernels::launch_cached_sincos},
};

}  // namespace

void validate(const RopeArgs& a) {
  constexpr std::string_view op = "rope";
  expect_rank(op, "x", a.x, 3);
  expect_device(op, "x", a.x, Device::cuda);
  expect_float_dtype(op, "x", a.x);
  const std::int64_t heads = a.x.dim(1), head_dim = a.x.dim(2);
  check_arg(heads > 0 && head_dim > 0, op, "x", "expected H, D > 0, got " + shape_str(a.x));
  check_arg(a.x.stride[2] == 1 && (heads == 1 || a.x.stride[1] == head_dim), op, "x",
            "expected packed heads (strides [*, D, 1])");
  check_arg(a.x.dim(0) <= 1 || a.x.stride[0] >= heads * head_dim, op, "x",
            "tokens overlap (token stride < H * D)");
  check_arg(a.x.dim(0) <= 0x7fffffff && heads * head_dim <= 0x7fffffff, op, "x",
            "too large: " + shape_str(a.x));
  check_index_array(op, "positions", a.positions, a.x.dim(0));
  resolve_rot_dim(op, a.freqs, head_dim);
}

const registry::OpRegistry<RopeArgs>& rope_registry() {
  static const auto reg = [] {
    registry::OpRegistry<RopeArgs> r("rope");
    for (const Rung& rung : kLadder) {
      r.add({.name = rung.name,
             .description = rung.description,
             .supports = [s = rung.supports](const RopeArgs& a) { return s(params_of(a)); },
             .launch =
                 [l = rung.launch](const RopeArgs& a, cudaStream_t stream) {
                   validate(a);
                   l(params_of(a), stream);
                 }});
    }
    // Shared sin/cos wins whenever the vectors tile the head; scalar pairs otherwise.
    // One token: naive (autotune check, H200 2026-11-26, D=128 H=32 T=1: naive 2.22 us,
    // cached_sincos +16.7%: its per-block sin/cos table does not pay off for one position).
    r.set_auto([](const RopeArgs& a) -> std::string {
      if (a.x.dim(0) == 1) return "naive";
      return rope_kernels::vectorizable(params_of(a)) ? "cached_sincos" : "naive";
    });
    r.set_bucket([](const RopeArgs& a) { return tune_bucket(a); });  // autotune
    return r;
  }();
  return reg;
}

void rope(const RopeArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  rope_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
