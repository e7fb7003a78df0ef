// Device-side helpers shared by the GEMV variants: the epilogue store, plain-layout access,
// and compile-time dispatch of activation dtype, bits and the M tile.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>
#include <type_traits>

#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/quant_unpack.cuh"
#include "cuda/common/vec.cuh"
#include "cuda/gemv/gemv_params.hpp"
#include "klab/error.hpp"

namespace klab::cuda::gemv_impl {

__device__ __forceinline__ float silu(float v) {
  return v / (1.0f + __expf(-v));
}

// y[idx] = v (+ residual[idx]), in y's dtype (f32 or T); returns the value before rounding.
template <class T>
__device__ __forceinline__ float store_out(const GemvParams& p, std::int64_t idx, float v) {
  if (p.y_f32) {
    if (p.epilogue == Epilogue::residual) v += static_cast<const float*>(p.residual)[idx];
    static_cast<float*>(p.y)[idx] = v;
  } else {
    if (p.epilogue == Epilogue::residual) v += to_f32(static_cast<const T*>(p.residual)[idx]);
    static_cast<T*>(p.y)[idx] = from_f32<T>(v);
  }
  return v;
}

// Stores the pair (gate, up) for swiglu, else `a`.
template <class T>
__device__ __forceinline__ void store_epilogue(const GemvParams& p, std::int64_t idx, float a,
                                               float up) {
  store_out<T>(p, idx, p.epilogue == Epilogue::swiglu ? silu(a) * up : a);
}

// Plain layout: XOR applied to a code word so that symmetric int8 becomes unsigned (q + 128).
__device__ __forceinline__ std::uint32_t plain_flip(const QuantPlainView& w) {
  return (w.bits == 8 && !w.asymmetric) ? 0x80808080u : 0u;
}
__device__ __forceinline__ int plain_zero_point(const QuantPlainView& w) {
  return w.asymmetric ? 0 : (w.bits == 4 ? 8 : 128);
}
__device__ __forceinline__ float plain_scale(const QuantPlainView& w, std::int64_t n,
                                             std::int64_t grp) {
  return half_bits_to_float(__ldg(w.scales + n * (w.cols / w.group) + grp));
}
__device__ __forceinline__ float plain_min(const QuantPlainView& w, std::int64_t n,
                                           std::int64_t grp) {
  return w.mins ? half_bits_to_float(__ldg(w.mins + n * (w.cols / w.group) + grp)) : 0.0f;
}

// f(T{}) with T = __half or __nv_bfloat16 for the activation dtype.
template <class F>
void dispatch_act(DType act, F&& f) {
  if (act == DType::f16) return f(__half{});
  if (act == DType::bf16) return f(__nv_bfloat16{});
  fail("gemv: activation dtype must be f16 or bf16, got " + std::string(dtype_name(act)));
}

// f(std::integral_constant<int, B>) for bits 4 or 8.
template <class F>
void dispatch_bits(int bits, F&& f) {
  if (bits == 4) return f(std::integral_constant<int, 4>{});
  if (bits == 8) return f(std::integral_constant<int, 8>{});
  fail("gemv: bits must be 4 or 8, got " + std::to_string(bits));
}

// The M tile: the smallest of 1, 2, 4, 8 that holds M (rows beyond M are predicated off).
template <class F>
void dispatch_m_tile(int M, F&& f) {
  if (M <= 1) return f(std::integral_constant<int, 1>{});
  if (M <= 2) return f(std::integral_constant<int, 2>{});
  if (M <= 4) return f(std::integral_constant<int, 4>{});
  if (M <= 8) return f(std::integral_constant<int, 8>{});
  fail("gemv: M must be at most 8, got " + std::to_string(M));
}

}  // namespace klab::cuda::gemv_impl

namespace klab::cuda::gemv_impl {

// The 4 code words of a 16-byte chunk, by compile-time index.
template <int I>
__device__ __forceinline__ std::uint32_t word_of(const uint4& q) {
  if constexpr (I == 0) return q.x;
  if constexpr (I == 1) return q.y;
  if constexpr (I == 2) return q.z;
  return q.w;
}

// Plain layout, CUDA-core path: acc[r][m] += W[row r, k0 .. k0 + 128/Bits) · x[m, same] for
// R rows whose 16-byte code chunks are q[r] (all codes of a chunk share one group: s, mn).
template <class T, int Bits, int MT, int R>
__device__ __forceinline__ void fma_chunk16(const uint4 (&q)[R], const float (&s)[R],
                                            const float (&mn)[R], std::uint32_t flip,
                                            const CodeDecoder<__half, Bits>& dec,
                                            const T* __restrict__ x, std::int64_t K, int M,
                                            std::int64_t k0, float (&acc)[R][MT]) {
  constexpr int kPerWord = 32 / Bits;
  const auto word = [&](int r, auto j) { return word_of<decltype(j)::value>(q[r]) ^ flip; };
  const auto step = [&](auto j) {
    float wv[R][kPerWord];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      decode_word_f32<Bits>(word(r, j), dec, wv[r]);
#pragma unroll
      for (int i = 0; i < kPerWord; ++i) wv[r][i] = fmaf(wv[r][i], s[r], mn[r]);
    }
    const std::int64_t kw = k0 + decltype(j)::value * kPerWord;
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      if (m >= M) break;
      Vec<T, kPerWord> xv;
      xv.load(x + m * K + kw);
#pragma unroll
      for (int i = 0; i < kPerWord; ++i) {
        const float xf = to_f32(xv[i]);
#pragma unroll
        for (int r = 0; r < R; ++r) acc[r][m] = fmaf(wv[r][i], xf, acc[r][m]);
      }
    }
  };
  step(std::integral_constant<int, 0>{});
  step(std::integral_constant<int, 1>{});
  step(std::integral_constant<int, 2>{});
  step(std::integral_constant<int, 3>{});
}

}  // namespace klab::cuda::gemv_impl
