// Shared by the per-(sequence, query head) combine kernels (combine_heads, combine_onepass):
// the block's last step once every warp holds its share of sum_s w_s o_s.
#pragma once

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/dtype_traits.cuh"

namespace klab::cuda::decode {

// Each warp's partial sums of o (lane l owns elements [l * kPer, (l + 1) * kPer)) meet in
// shared memory; out[b, h] = (sum over warps) / weight_sum, or 0 when no key had weight.
template <class T, int D, int kWarps>
__device__ __forceinline__ void write_combined(float (&partial)[kWarps][D],
                                               const float (&acc)[D / 32], float weight_sum,
                                               const DecodeParams& p, int b, int h) {
  constexpr int kPer = D / 32;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int e = 0; e < kPer; ++e) partial[warp][lane * kPer + e] = acc[e];
  __syncthreads();

  const float inv = weight_sum > 0.0f ? 1.0f / weight_sum : 0.0f;
  T* out = static_cast<T*>(p.out) + b * p.out_stride_b + h * p.out_stride_h;
  for (int d = threadIdx.x; d < D; d += kWarps * 32) {
    float o = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) o += partial[w][d];
    out[d] = from_f32<T>(o * inv);
  }
}

}  // namespace klab::cuda::decode
