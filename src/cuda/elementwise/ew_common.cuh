// Device pieces shared by the elementwise variants: the two binary ops, dispatch over
// (dtype, op), and the [rows, cols] addressing of a flat element index.
#pragma once

#include <cstdint>

#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/vec.cuh"
#include "cuda/elementwise/ew_params.hpp"

namespace klab::cuda::elementwise {

// silu(g) * u with the hardware exp2 and reciprocal (relative error ~1e-6, far below f16/bf16
// rounding): the accurate expf and IEEE division cost ~40 instructions per element, enough to
// make the 4-vector rung compute-bound between its load and store phases.
struct SiluMul {
  __device__ __forceinline__ float operator()(float g, float u) const {
    return __fdividef(g, 1.0f + __expf(-g)) * u;
  }
};

struct Add {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};

// Calls f(T{}, Op{}) for the CUDA type of p.dtype and the functor of p.op.
template <class F>
void dispatch(const EwParams& p, F&& f) {
  dispatch_float(p.dtype, [&](auto t) {
    if (p.op == BinaryOp::silu_mul)
      f(t, SiluMul{});
    else
      f(t, Add{});
  });
}

// Element offsets of flat index i (counted in units of `width` elements along a row) in each
// operand. Contiguous operands arrive flattened to one row, which skips the division.
struct Offsets {
  std::int64_t out, a, b;
};

__device__ __forceinline__ Offsets offsets_of(const EwParams& p, std::int64_t i, int width) {
  if (p.rows == 1) return {i * width, i * width, i * width};
  const std::int64_t per_row = p.cols / width;
  const std::int64_t row = i / per_row;
  const std::int64_t col = (i - row * per_row) * width;
  return {row * p.out_stride + col, row * p.a_stride + col, row * p.b_stride + col};
}

// out[i..i+N) = op(a, b) on one 16-byte vector already loaded.
template <class T, int N, class Op>
__device__ __forceinline__ Vec<T, N> apply(const Vec<T, N>& a, const Vec<T, N>& b, Op op) {
  Vec<T, N> o;
#pragma unroll
  for (int j = 0; j < N; ++j) o[j] = from_f32<T>(op(to_f32(a[j]), to_f32(b[j])));
  return o;
}

}  // namespace klab::cuda::elementwise
