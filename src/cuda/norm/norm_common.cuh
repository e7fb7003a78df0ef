// Device-side pieces shared by the RMSNorm variants: dtype dispatch over (activation,
// weight) pairs and typed row pointers.
#pragma once

#include <string>

#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/vec.cuh"
#include "cuda/norm/norm_params.hpp"
#include "klab/error.hpp"

namespace klab::cuda::norm {

// Calls f(T{}, W{}, std::bool_constant<residual>{}) for the CUDA types of p.act and
// p.weight_dtype; the weight is either the activation dtype or f32.
template <class F>
void dispatch(const NormParams& p, F&& f) {
  dispatch_float(p.act, [&](auto t) {
    using T = decltype(t);
    auto with_residual = [&](auto w) {
      if (p.residual)
        f(T{}, w, std::true_type{});
      else
        f(T{}, w, std::false_type{});
    };
    if (p.weight_dtype == p.act)
      with_residual(T{});
    else if (p.weight_dtype == DType::f32)
      with_residual(float{});
    else
      fail("rmsnorm: weight dtype " + std::string(dtype_name(p.weight_dtype)) +
           " must be f32 or the activation dtype");
  });
}

// Row `row` of each operand, typed.
template <class T, class W>
struct RowPtrs {
  T* __restrict__ out;
  const T* __restrict__ x;
  T* residual;  // read and written by the same thread: no __restrict__ needed
  const W* __restrict__ weight;

  __device__ __forceinline__ RowPtrs(const NormParams& p, std::int64_t row)
      : out(static_cast<T*>(p.out) + row * p.out_stride),
        x(static_cast<const T*>(p.x) + row * p.x_stride),
        residual(p.residual ? static_cast<T*>(p.residual) + row * p.residual_stride : nullptr),
        weight(static_cast<const W*>(p.weight)) {}
};

// residual += x on one 16-byte vector, rounded to T; returns the stored sum (what the norm
// reads, as in klab::ref::add_rmsnorm).
template <class T, int N>
__device__ __forceinline__ Vec<T, N> add_residual(T* residual, const Vec<T, N>& x) {
  Vec<T, N> r;
  r.load(residual);
#pragma unroll
  for (int j = 0; j < N; ++j) r[j] = from_f32<T>(to_f32(r[j]) + to_f32(x[j]));
  r.store(residual);
  return r;
}

template <class T, int N>
__device__ __forceinline__ float sum_squares(const Vec<T, N>& v) {
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < N; ++j) s += to_f32(v[j]) * to_f32(v[j]);
  return s;
}

// out = v * inv_rms * weight on one vector; the weight vector starts at element `col`.
template <class T, class W, int N>
__device__ __forceinline__ void store_normalized(T* __restrict__ out, const Vec<T, N>& v,
                                                 const W* __restrict__ weight, float inv_rms) {
  Vec<W, N> w;
  w.load(weight);
  Vec<T, N> o;
#pragma unroll
  for (int j = 0; j < N; ++j) o[j] = from_f32<T>(to_f32(v[j]) * inv_rms * to_f32(w[j]));
  o.store(out);
}

}  // namespace klab::cuda::norm
