// Decode variant `block_per_head`, the simple rung: a block of 4 warps per (sequence, query
// head). Warp w takes keys w, w + 4, ...; its lanes split the head dim (D / 32 elements each),
// form the q.k dot product with a warp reduction and keep an online softmax; the 4 warp states
// are merged at the end. K/V are read straight from global memory, once per query head (the
// other heads of a GQA group find them in L2).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/attn_kv.cuh"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/reduce.cuh"
#include "cuda/common/vec.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::decode {

namespace {

constexpr int kWarps = 4;
constexpr float kLog2e = 1.4426950408889634f;

template <class T, int D>
__global__ void __launch_bounds__(kWarps * 32) block_per_head_kernel(DecodeParams p) {
  constexpr int kPer = D / 32;
  using Lane = Vec<T, kPer>;
  const int h = blockIdx.x, b = blockIdx.y;
  const int hkv = h / (p.num_q_heads / p.cache.num_kv_heads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const CachedKv::Seq seq = CachedKv{p.cache, p.kv_lens}.seq(b);

  float q[kPer], acc[kPer];
  {
    Lane v;
    v.load(static_cast<const T*>(p.q) + b * p.q_stride_b + h * p.q_stride_h + lane * kPer);
#pragma unroll
    for (int e = 0; e < kPer; ++e) {
      q[e] = to_f32(v[e]) * p.scale * kLog2e;
      acc[e] = 0.0f;
    }
  }
  const T* kbase = static_cast<const T*>(p.cache.k) + hkv * p.cache.head_stride + lane * kPer;
  const T* vbase = static_cast<const T*>(p.cache.v) + hkv * p.cache.head_stride + lane * kPer;
  float m = -INFINITY, l = 0.0f;
  for (int j = warp; j < seq.len; j += kWarps) {
    const std::int64_t off = seq.row_offset(j);
    Lane k, v;
    if (off >= 0) {
      k.load(kbase + off);
      v.load(vbase + off);
    } else {  // unaddressable row: reads as zeros
#pragma unroll
      for (int e = 0; e < kPer; ++e) k[e] = v[e] = from_f32<T>(0.0f);
    }
    float dot = 0.0f;
#pragma unroll
    for (int e = 0; e < kPer; ++e) dot = fmaf(q[e], to_f32(k[e]), dot);
    const float s = warp_sum(dot);
    const float m_new = fmaxf(m, s);
    const float alpha = exp2f(m - m_new);
    const float pr = exp2f(s - m_new);
    l = l * alpha + pr;
#pragma unroll
    for (int e = 0; e < kPer; ++e) acc[e] = fmaf(pr, to_f32(v[e]), acc[e] * alpha);
    m = m_new;
  }

  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_acc[kWarps][D];
  if (lane == 0) {
    sm_m[warp] = m;
    sm_l[warp] = l;
  }
#pragma unroll
  for (int e = 0; e < kPer; ++e) sm_acc[warp][lane * kPer + e] = acc[e];
  __syncthreads();
  float mx = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, sm_m[w]);
  const float base = mx == -INFINITY ? 0.0f : mx;
  float w_[kWarps], sum = 0.0f;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    w_[w] = exp2f(sm_m[w] - base);
    sum += w_[w] * sm_l[w];
  }
  const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
  for (int d = threadIdx.x; d < D; d += kWarps * 32) {
    float a = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) a += w_[w] * sm_acc[w][d];
    static_cast<T*>(p.out)[b * p.out_stride_b + h * p.out_stride_h + d] = from_f32<T>(a * inv);
  }
}

template <class T>
void launch_typed(const DecodeParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(p.num_q_heads), static_cast<unsigned>(p.batch));
  switch (p.cache.head_dim) {
    case 64:
      block_per_head_kernel<T, 64><<<grid, kWarps * 32, 0, stream>>>(p);
      break;
    case 128:
      block_per_head_kernel<T, 128><<<grid, kWarps * 32, 0, stream>>>(p);
      break;
    case 256:
      block_per_head_kernel<T, 256><<<grid, kWarps * 32, 0, stream>>>(p);
      break;
    default:
      fail("decode_attention block_per_head: head_dim must be 64, 128 or 256");
  }
  check_launch("decode_attention block_per_head");
}

}  // namespace

bool block_per_head_supports(const DecodeParams& p) {
  return tile_supports(p);
}

void launch_block_per_head(const DecodeParams& p, cudaStream_t stream) {
  if (p.dtype == DType::f16) return launch_typed<__half>(p, stream);
  if (p.dtype == DType::bf16) return launch_typed<__nv_bfloat16>(p, stream);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

}  // namespace klab::cuda::decode
