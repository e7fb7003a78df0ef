// Entry points of the prefill variant `wgmma_fa3` (kernel in wgmma_fa3.cuh, instantiated per
// dtype in wgmma_fa3_<dtype>.cu; support checks in wgmma_fa3.cu).
#pragma once

#include "cuda/attn_prefill/prefill_params.hpp"

namespace klab::cuda::prefill {

// Head dim 64 or 128, 16-byte vectorizable operands, on a device that runs this build's sm_90a
// code (compute capability 9.0 and a binary compiled for 90a).
bool wgmma_fa3_supports(const PrefillParams& p);
void launch_wgmma_fa3(const PrefillParams& p, cudaStream_t stream);

// GQA packing: one CTA serves wgmma_fa3_pack_heads(Hq / Hkv) query heads of a KV head, 128 / that
// many positions each, so each K/V tile read feeds that many heads. Same support as wgmma_fa3.
void launch_wgmma_fa3_gqa(const PrefillParams& p, cudaStream_t stream);

// wgmma_fa3_gqa with key tiles fetched by TMA (one thread, mbarrier per stage) from packed K/V
// and contiguous caches; paged caches keep the cp.async loads. Same support as wgmma_fa3.
void launch_wgmma_fa3_tma(const PrefillParams& p, cudaStream_t stream);

// The most query heads one CTA packs: the largest divisor of `group` up to 8 (8 heads leave 16
// positions per CTA; more would shrink the causal tiles' useful share further).
constexpr int kFa3MaxPackHeads = 8;
int wgmma_fa3_pack_heads(int group);

// pack_heads query heads of one KV group per CTA (1: one head, 128 positions); tma: full key
// tiles by TMA where the source allows it.
template <class T>
void launch_wgmma_fa3_typed(const PrefillParams& p, int pack_heads, bool tma, cudaStream_t stream);

}  // namespace klab::cuda::prefill
