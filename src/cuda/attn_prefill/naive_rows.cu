// Prefill variant `naive_rows`, the simple rung: a warp per (query row, query head). Lanes
// split the head dim (D / 32 elements each); the warp walks the row's visible keys one at a
// time straight from global memory, forming q.k with a warp reduction and keeping an online
// softmax. No shared memory, no reuse of K/V between rows beyond what L1/L2 catch.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_prefill/prefill_common.cuh"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/reduce.cuh"
#include "cuda/common/vec.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::prefill {

namespace {

constexpr int kWarps = 4;

template <class T, int D, class Src>
__global__ void __launch_bounds__(kWarps * 32) naive_rows_kernel(PrefillParams p, Src src) {
  constexpr int kPer = D / 32;
  using Lane = Vec<T, kPer>;
  const int b = blockIdx.z, h = blockIdx.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int i = blockIdx.x * kWarps + warp;
  const auto seq = src.seq(b);
  const SeqRows rows = seq_rows(p, b, seq.len);
  if (i >= rows.q_len) return;
  const int hkv = h / (p.num_q_heads / p.num_kv_heads);
  const std::int64_t row = rows.q_begin + i;

  float q[kPer], acc[kPer];
  {
    Lane v;
    v.load(static_cast<const T*>(p.q) + row * p.q_stride_t + h * p.q_stride_h + lane * kPer);
#pragma unroll
    for (int e = 0; e < kPer; ++e) {
      q[e] = to_f32(v[e]) * p.scale * kLog2e;
      acc[e] = 0.0f;
    }
  }
  const T* kbase = static_cast<const T*>(kv_k(src)) + hkv * kv_head_stride(src) + lane * kPer;
  const T* vbase = static_cast<const T*>(kv_v(src)) + hkv * kv_head_stride(src) + lane * kPer;
  float m = -INFINITY, l = 0.0f;
  const int visible = rows.visible(i, p.causal);
  for (int j = 0; j < visible; ++j) {
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
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  Lane o;
#pragma unroll
  for (int e = 0; e < kPer; ++e) o[e] = from_f32<T>(acc[e] * inv);
  o.store(static_cast<T*>(p.out) + row * p.out_stride_t + h * p.out_stride_h + lane * kPer);
}

template <class T, int D>
void launch_dim(const PrefillParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div(p.max_q_len, kWarps)),
                  static_cast<unsigned>(p.num_q_heads), static_cast<unsigned>(p.batch));
  with_source(p, [&](auto src) {
    naive_rows_kernel<T, D, decltype(src)><<<grid, kWarps * 32, 0, stream>>>(p, src);
    check_launch("prefill_attention naive_rows");
  });
}

template <class T>
void launch_typed(const PrefillParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 64:
      return launch_dim<T, 64>(p, stream);
    case 128:
      return launch_dim<T, 128>(p, stream);
    case 256:
      return launch_dim<T, 256>(p, stream);
    default:
      fail("prefill_attention naive_rows: head_dim must be 64, 128 or 256");
  }
}

}  // namespace

void launch_naive_rows(const PrefillParams& p, cudaStream_t stream) {
  if (p.max_q_len <= 0) return;
  if (p.dtype == DType::f16) return launch_typed<__half>(p, stream);
  if (p.dtype == DType::bf16) return launch_typed<__nv_bfloat16>(p, stream);
  fail("prefill_attention: dtype must be f16 or bf16");
}

}  // namespace klab::cuda::prefill
