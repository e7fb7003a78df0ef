// split_kv_mma_fused's cut of one sequence, computed on the device from the ACTUAL lengths of the
// whole batch (decode_params.hpp: fused_target, fused_split), so a plan made for the longest
// lengths (a captured graph) still spreads a short context over the GPU.
#pragma once

#include <cstdint>

#include "cuda/attn_decode/decode_params.hpp"

namespace klab::cuda::decode {

// Every thread of the block calls it. The lengths (clamped to the `max_len` rows the cache
// addresses) are loaded one per thread, all in flight together with this CTA's own length and
// block-table window, and summed through shared memory: one memory latency for the whole batch.
// The grid's y dimension is the CTAs per split (KV heads x head tiles).
__device__ __forceinline__ SeqSplit fused_cut(const DecodeParams& p, int len, int max_len) {
  __shared__ long long s_warp_sums[32];
  long long sum = 0;
  for (int i = threadIdx.x; i < p.batch; i += blockDim.x) {
    const int l = p.kv_lens[i];
    sum += l < 0 ? 0 : l < max_len ? l : max_len;
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % 32 == 0) s_warp_sums[threadIdx.x / 32] = sum;
  __syncthreads();
  long long total = 0;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += s_warp_sums[w];
  const int clamped = len < 0 ? 0 : len < max_len ? len : max_len;
  return fused_split(clamped, p.max_splits,
                     fused_target(total, static_cast<int>(gridDim.y), p.sm_count));
}

}  // namespace klab::cuda::decode
