// RMSNorm from the f32 residual stream into the f16 input of the next GEMV: a block per row.
// Rows up to kRegisterVecs * 1024 vectors are held in registers: each thread loads its part of
// x and of the weight at once (every load in flight before the first use), the block sums the
// squares with warp shuffles and one shared-memory exchange (one barrier), then each thread
// scales and stores what it holds. A decode step's single 4096-wide row is then one load round
// trip, not two passes over a 1024-thread block with two barriers per reduction. Longer rows
// take the two-pass loop (the second read hits L1). float4 loads when rows are 16-byte
// aligned. Math in f32, one rounding to f16 at the end.
#include <cuda_fp16.h>

#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/reduce.cuh"
#include "cuda/model/model_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::model_glue {

namespace {

// Vectors of V floats each thread of the register kernel holds.
constexpr int kRegisterVecs = 4;
constexpr int kMaxThreads = 1024;

template <int V>
struct FloatVec {
  float v[V];
};

template <int V>
__device__ __forceinline__ FloatVec<V> load_vec(const float* __restrict__ p) {
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
__device__ __forceinline__ float sum_sq(const FloatVec<V>& x) {
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < V; ++j) s += x.v[j] * x.v[j];
  return s;
}

// out[0..V) = f16(x * inv_rms * w).
template <int V>
__device__ __forceinline__ void store_scaled(__half* out, const FloatVec<V>& x,
                                             const FloatVec<V>& w, float inv_rms) {
  if constexpr (V == 4) {
    const __half2 lo = __floats2half2_rn(x.v[0] * inv_rms * w.v[0], x.v[1] * inv_rms * w.v[1]);
    const __half2 hi = __floats2half2_rn(x.v[2] * inv_rms * w.v[2], x.v[3] * inv_rms * w.v[3]);
    reinterpret_cast<__half2*>(out)[0] = lo;
    reinterpret_cast<__half2*>(out)[1] = hi;
  } else {
    out[0] = __float2half_rn(x.v[0] * inv_rms * w.v[0]);
  }
}

// Sum over the block, called once per kernel: warp sums, one exchange through shared memory,
// one barrier (block_sum's leading barrier guards reuse, which never happens here).
__device__ __forceinline__ float block_sum_once(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  return warp_sum(lane < warps ? partial[lane] : 0.0f);
}

// Thread i holds vectors i, i + blockDim.x, ... (kRegisterVecs of them, some past the row).
template <int V>
__global__ void rmsnorm_to_half_registers_kernel(RmsNormToHalfParams p) {
  // Lets a PDL-launched GEMV after this norm start streaming its weights now (it waits for
  // this kernel's output before reading x). Launched with PDL itself, this kernel may start
  // before its predecessor ends: the norm weights are read before the wait, x after it.
  decode::pdl_launch_dependents();
  const float* __restrict__ x = p.x + blockIdx.x * p.x_stride;
  const float* __restrict__ weight = p.weight;
  __half* __restrict__ out = reinterpret_cast<__half*>(p.out) + blockIdx.x * p.out_stride;
  const int cols = static_cast<int>(p.cols);
  FloatVec<V> xs[kRegisterVecs], ws[kRegisterVecs];
  float ss = 0.0f;
#pragma unroll
  for (int k = 0; k < kRegisterVecs; ++k) {
    const int i = (k * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x)) * V;
    ws[k] = i < cols ? load_vec<V>(weight + i) : FloatVec<V>{};
  }
  decode::pdl_wait();
#pragma unroll
  for (int k = 0; k < kRegisterVecs; ++k) {
    const int i = (k * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x)) * V;
    xs[k] = i < cols ? load_vec<V>(x + i) : FloatVec<V>{};
  }
#pragma unroll
  for (int k = 0; k < kRegisterVecs; ++k) ss += sum_sq(xs[k]);
  const float inv_rms = rsqrtf(block_sum_once(ss) / static_cast<float>(cols) + p.eps);
#pragma unroll
  for (int k = 0; k < kRegisterVecs; ++k) {
    const int i = (k * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x)) * V;
    if (i < cols) store_scaled<V>(out + i, xs[k], ws[k], inv_rms);
  }
}

// Any row length: sum of squares, then a second pass that scales.
template <int V>
__global__ void rmsnorm_to_half_two_pass_kernel(RmsNormToHalfParams p) {
  decode::pdl_launch_dependents();  // as above
  decode::pdl_wait();
  const float* __restrict__ x = p.x + blockIdx.x * p.x_stride;
  __half* __restrict__ out = reinterpret_cast<__half*>(p.out) + blockIdx.x * p.out_stride;
  float ss = 0.0f;
  for (std::int64_t i = threadIdx.x * V; i < p.cols; i += blockDim.x * V)
    ss += sum_sq(load_vec<V>(x + i));
  const float inv_rms = rsqrtf(block_sum_once(ss) / static_cast<float>(p.cols) + p.eps);
  for (std::int64_t i = threadIdx.x * V; i < p.cols; i += blockDim.x * V)
    store_scaled<V>(out + i, load_vec<V>(x + i), load_vec<V>(p.weight + i), inv_rms);
}

bool vec4_ok(const RmsNormToHalfParams& p) {
  return p.cols % 4 == 0 && p.x_stride % 4 == 0 && p.out_stride % 4 == 0 && is_aligned(p.x, 16) &&
         is_aligned(p.weight, 16) && is_aligned(p.out, 8);
}

template <int V>
void launch(const RmsNormToHalfParams& p, cudaStream_t stream) {
  const std::int64_t vecs = p.cols / V;
  const auto rows = static_cast<unsigned>(p.rows);
  if (vecs <= std::int64_t{kRegisterVecs} * kMaxThreads) {
    const auto threads = static_cast<int>(round_up(ceil_div(vecs, kRegisterVecs), 32));
    decode::launch_maybe_pdl(&rmsnorm_to_half_registers_kernel<V>, dim3(rows), dim3(threads), 0,
                             stream, p.pdl, "rmsnorm_to_half_registers_kernel", p);
  } else {
    decode::launch_maybe_pdl(&rmsnorm_to_half_two_pass_kernel<V>, dim3(rows), dim3(kMaxThreads), 0,
                             stream, p.pdl, "rmsnorm_to_half_two_pass_kernel", p);
  }
}

}  // namespace

void launch_rmsnorm_to_half(const RmsNormToHalfParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  if (vec4_ok(p))
    launch<4>(p, stream);
  else
    launch<1>(p, stream);
}

}  // namespace klab::cuda::model_glue
