// Split-KV combine: out[b, h] = sum_s w_s o_s / sum_s w_s, where each split s left o_s (its
// normalised output) and lse_s = max_s + log2(sum_s) in base-2 units, so that
// w_s = exp2(lse_s - max over splits) carries each split's share of the softmax sum.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/reduce.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::decode {

namespace {

constexpr int kCombineThreads = 128;

__device__ float block_max(float v) {
  __shared__ float partial[kCombineThreads / 32];
  v = warp_max(v);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  float r = partial[0];
#pragma unroll
  for (int w = 1; w < kCombineThreads / 32; ++w) r = fmaxf(r, partial[w]);
  return r;
}

template <class T>
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(DecodeParams p) {
  const int h = blockIdx.x, b = blockIdx.y;
  const SeqSplit cut = seq_split(p.kv_lens[b], p.max_splits, p.chunk);
  if (cut.count <= 1) return;  // the tile kernel wrote out directly
  const int dim = p.cache.head_dim;
  const std::int64_t part0 = (std::int64_t{b} * p.num_q_heads + h) * p.max_splits;
  __shared__ float weight[kMaxSplits];

  float mx = -INFINITY;
  for (int s = threadIdx.x; s < cut.count; s += kCombineThreads)
    mx = fmaxf(mx, p.part_lse[part0 + s]);
  mx = block_max(mx);
  const float base = mx == -INFINITY ? 0.0f : mx;
  float sum = 0.0f;
  for (int s = threadIdx.x; s < cut.count; s += kCombineThreads) {
    const float w = exp2f(p.part_lse[part0 + s] - base);
    weight[s] = w;
    sum += w;
  }
  sum = block_sum(sum);  // its barriers also publish weight[]
  const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
  for (int d = threadIdx.x; d < dim; d += kCombineThreads) {
    float acc = 0.0f;
    for (int s = 0; s < cut.count; ++s) acc += weight[s] * p.part_o[(part0 + s) * dim + d];
    static_cast<T*>(p.out)[b * p.out_stride_b + h * p.out_stride_h + d] = from_f32<T>(acc * inv);
  }
}

}  // namespace

void launch_combine(const DecodeParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(p.num_q_heads), static_cast<unsigned>(p.batch));
  dispatch_float(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    combine_kernel<T><<<grid, kCombineThreads, 0, stream>>>(p);
    check_launch("decode_attention combine");
  });
}

}  // namespace klab::cuda::decode
