// Shared pieces of the dequantization kernels: the exact element formula and dispatch.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>
#include <type_traits>

#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/quant_unpack.cuh"
#include "cuda/dequant/dequant_params.hpp"
#include "klab/error.hpp"

namespace klab::cuda::dequant_impl {

// float(q) * scale (+ min) with separate roundings, as klab::ref (and llama.cpp) evaluate it.
__device__ __forceinline__ float dequant_value(float q, float scale, float mn, bool asym) {
  const float v = __fmul_rn(q, scale);
  return asym ? __fadd_rn(v, mn) : v;
}

template <class F>
void dispatch_out(DType dt, F&& f) {
  switch (dt) {
    case DType::f32:
      return f(float{});
    case DType::f16:
      return f(__half{});
    case DType::bf16:
      return f(__nv_bfloat16{});
    default:
      fail("dequantize: out dtype must be f32, f16 or bf16");
  }
}

template <class F>
void dispatch_bits(int bits, F&& f) {
  if (bits == 4) return f(std::integral_constant<int, 4>{});
  if (bits == 8) return f(std::integral_constant<int, 8>{});
  fail("dequantize: bits must be 4 or 8, got " + std::to_string(bits));
}

}  // namespace klab::cuda::dequant_impl
