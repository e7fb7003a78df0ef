// `split_kv_mma_fused`: the mma split kernel of decode_mma.cuh in its kFused form, one launch.
//   - the last CTA to finish a (sequence, KV head, head tile) merges that tile's partials
//     (combine_fused.cuh) and resets the tile's arrival counter, so no combine kernel, no
//     launch gap and no second prologue; the counters live at the start of the workspace
//     (kCounterSlots of them) and must be zero before the first call (prepare_decode_workspace);
//   - a paged cache's block-table entries of each CTA's range are staged in shared memory
//     once, loaded alongside the sequence length (page_window.cuh).
//   - its own cut (fused_cut.cuh, decode_params.hpp fused_split): the plan's fused_splits CTAs
//     per (sequence, head tile) at most, each sequence's ACTUAL length spread over about one CTA
//     per SM for the whole batch, >= 64 keys per split.
// Sequences cut into one split are written directly, as in the other split variants.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/launch_util.hpp"
#include "klab/error.hpp"

namespace klab::cuda::decode {

bool fused_supports(const DecodeParams& p) {
  if (!mma_supports(p)) return false;
  if (p.max_splits <= 1) return true;  // no partials, no counters
  const std::int64_t tiles = ceil_div(p.num_q_heads / p.cache.num_kv_heads, kMmaRows);
  return p.counters != nullptr &&
         std::int64_t{p.batch} * p.cache.num_kv_heads * tiles <= kCounterSlots;
}

void launch_split_kv_mma_fused(const DecodeParams& p, cudaStream_t stream) {
  if (p.dtype == DType::f16) return launch_decode_mma_fused_typed<__half>(p, stream);
  if (p.dtype == DType::bf16) return launch_decode_mma_fused_typed<__nv_bfloat16>(p, stream);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

}  // namespace klab::cuda::decode
