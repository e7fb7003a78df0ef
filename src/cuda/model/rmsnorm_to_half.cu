// RMSNorm from the f32 residual stream into the f16 input of the next GEMV, in one pass over
// HBM: a block per row, the row read twice (sum of squares, then scale; the second read hits
// L1), float4 loads when rows are 16-byte aligned. Math in f32, one rounding to f16 at the end.
#include <cuda_fp16.h>

#include <algorithm>

#include "cuda/common/launch_util.hpp"
#include "cuda/common/reduce.cuh"
#include "cuda/model/model_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::model_glue {

namespace {

template <int V>
struct FloatVec {
  float v[V];
};

template <int V>
__device__ __forceinline__ FloatVec<V> load_vec(const float* p) {
  FloatVec<V> r;
  if constexpr (V == 4) {
    const float4 f = *reinterpret_cast<const float4*>(p);
    r.v[0] = f.x, r.v[1] = f.y, r.v[2] = f.z, r.v[3] = f.w;
  } else {
    r.v[0] = *p;
  }
  return r;
}

template <int V>
__global__ void rmsnorm_to_half_kernel(RmsNormToHalfParams p) {
  const float* x = p.x + blockIdx.x * p.x_stride;
  __half* out = reinterpret_cast<__half*>(p.out) + blockIdx.x * p.out_stride;
  float sum_sq = 0.0f;
  for (std::int64_t i = threadIdx.x * V; i < p.cols; i += blockDim.x * V) {
    const FloatVec<V> v = load_vec<V>(x + i);
#pragma unroll
    for (int j = 0; j < V; ++j) sum_sq += v.v[j] * v.v[j];
  }
  const float inv_rms = rsqrtf(block_sum(sum_sq) / static_cast<float>(p.cols) + p.eps);
  for (std::int64_t i = threadIdx.x * V; i < p.cols; i += blockDim.x * V) {
    const FloatVec<V> v = load_vec<V>(x + i);
    const FloatVec<V> w = load_vec<V>(p.weight + i);
    if constexpr (V == 4) {
      const __half2 lo = __floats2half2_rn(v.v[0] * inv_rms * w.v[0], v.v[1] * inv_rms * w.v[1]);
      const __half2 hi = __floats2half2_rn(v.v[2] * inv_rms * w.v[2], v.v[3] * inv_rms * w.v[3]);
      reinterpret_cast<__half2*>(out + i)[0] = lo;
      reinterpret_cast<__half2*>(out + i)[1] = hi;
    } else {
      out[i] = __float2half_rn(v.v[0] * inv_rms * w.v[0]);
    }
  }
}

bool vec4_ok(const RmsNormToHalfParams& p) {
  return p.cols % 4 == 0 && p.x_stride % 4 == 0 && p.out_stride % 4 == 0 && is_aligned(p.x, 16) &&
         is_aligned(p.weight, 16) && is_aligned(p.out, 8);
}

}  // namespace

void launch_rmsnorm_to_half(const RmsNormToHalfParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  const bool vec4 = vec4_ok(p);
  const std::int64_t units = vec4 ? p.cols / 4 : p.cols;
  const int threads = static_cast<int>(std::clamp<std::int64_t>(round_up(units, 32), 32, 1024));
  if (vec4)
    rmsnorm_to_half_kernel<4><<<static_cast<unsigned>(p.rows), threads, 0, stream>>>(p);
  else
    rmsnorm_to_half_kernel<1><<<static_cast<unsigned>(p.rows), threads, 0, stream>>>(p);
  check_launch("rmsnorm_to_half_kernel");
}

}  // namespace klab::cuda::model_glue
