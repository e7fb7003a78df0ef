// Split-KV combine for the mma rung: a block per (sequence, query head) whose 4 warps take
// every 4th split each, so one round of L2 reads covers up to 4 * 8 splits (the `combine`
// kernel walks all splits with one thread per output element, one dependent read after
// another). Same math: out = sum_s w_s o_s / sum_s w_s with w_s = exp2(lse_s - max lse), lse in
// log2 units. Each warp finds the max and the weight sum over all splits itself (no barrier);
// the 4 partial sums of o meet once in shared memory. Launched with programmatic stream
// serialization when `pdl` (see pdl.cuh): it then starts while the split kernel drains and
// waits for its partials in pdl_wait().
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_decode/combine_common.cuh"
#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/reduce.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda::decode {

namespace {

constexpr int kWarps = 4;

template <class T, int D>
__global__ void __launch_bounds__(kWarps * 32) combine_heads_kernel(DecodeParams p) {
  constexpr int kPer = D / 32;  // floats of the head dim per lane
  static_assert(kPer == 2 || kPer % 4 == 0);
  __shared__ __align__(16) float partial[kWarps][D];
  pdl_launch_dependents();
  pdl_wait();  // the split kernel's partials

  const int h = blockIdx.x, b = blockIdx.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const SeqSplit cut = seq_split(p.kv_lens[b], p.max_splits, p.chunk);
  if (cut.count <= 1) return;  // the split kernel wrote out directly
  const std::int64_t part0 = (std::int64_t{b} * p.num_q_heads + h) * p.max_splits;
  const float* lse = p.part_lse + part0;

  float mx = -INFINITY;
  for (int s = lane; s < cut.count; s += 32) mx = fmaxf(mx, lse[s]);
  mx = warp_max(mx);
  const float base = mx == -INFINITY ? 0.0f : mx;
  float sum = 0.0f;
  for (int s = lane; s < cut.count; s += 32) sum += exp2f(lse[s] - base);
  sum = warp_sum(sum);

  float acc[kPer] = {};
  const float* po = p.part_o + part0 * D + lane * kPer;
#pragma unroll 8
  for (int s = warp; s < cut.count; s += kWarps) {
    const float w = exp2f(lse[s] - base);
    const float* src = po + std::int64_t{s} * D;
    if constexpr (kPer == 2) {
      const float2 v = *reinterpret_cast<const float2*>(src);
      acc[0] = fmaf(w, v.x, acc[0]);
      acc[1] = fmaf(w, v.y, acc[1]);
    } else {
#pragma unroll
      for (int e = 0; e < kPer; e += 4) {
        const float4 v = *reinterpret_cast<const float4*>(src + e);
        acc[e] = fmaf(w, v.x, acc[e]);
        acc[e + 1] = fmaf(w, v.y, acc[e + 1]);
        acc[e + 2] = fmaf(w, v.z, acc[e + 2]);
        acc[e + 3] = fmaf(w, v.w, acc[e + 3]);
      }
    }
  }
  write_combined<T, D, kWarps>(partial, acc, sum, p, b, h);
}

template <class T>
void launch_typed(const DecodeParams& p, cudaStream_t stream, bool pdl) {
  const dim3 grid(static_cast<unsigned>(p.num_q_heads), static_cast<unsigned>(p.batch));
  constexpr const char* what = "decode_attention combine_heads";
  switch (p.cache.head_dim) {
    case 64:
      return launch_maybe_pdl(combine_heads_kernel<T, 64>, grid, dim3(kWarps * 32), 0, stream, pdl,
                              what, p);
    case 128:
      return launch_maybe_pdl(combine_heads_kernel<T, 128>, grid, dim3(kWarps * 32), 0, stream, pdl,
                              what, p);
    case 256:
      return launch_maybe_pdl(combine_heads_kernel<T, 256>, grid, dim3(kWarps * 32), 0, stream, pdl,
                              what, p);
    default:
      fail("decode_attention combine_heads: head_dim must be 64, 128 or 256");
  }
}

}  // namespace

void launch_combine_heads(const DecodeParams& p, cudaStream_t stream, bool pdl) {
  if (p.dtype == DType::f16) return launch_typed<__half>(p, stream, pdl);
  if (p.dtype == DType::bf16) return launch_typed<__nv_bfloat16>(p, stream, pdl);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

}  // namespace klab::cuda::decode
