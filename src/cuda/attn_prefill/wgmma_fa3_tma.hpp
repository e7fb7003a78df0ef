// TMA tensor maps of the K/V source for wgmma_fa3_tma (host side in wgmma_fa3_tma.cu). Kept out
// of wgmma_fa3.hpp: it needs <cuda.h>, which the registry's host code does not include.
#pragma once

#include <cuda.h>

#include "cuda/attn_prefill/prefill_params.hpp"

namespace klab::cuda::prefill {

// K and V as 4-D tensors (D, heads, rows, blocks), innermost first: packed K/V are one block of
// k_rows rows, a contiguous cache is num_blocks sequences of page_size rows. The box is 64
// elements (one 128-byte swizzle span) x 1 head x `box_rows` rows x 1 block, stored with
// 128-byte swizzle: exactly one column block of the kernels' sw128 tiles. Rows outside the
// tensor are zero-filled by the hardware.
struct Fa3KvMaps {
  CUtensorMap k;
  CUtensorMap v;
};

// false where the source has no such description (paged caches, strides or sizes past the TMA
// limits, a driver without cuTensorMapEncodeTiled): the caller falls back to cp.async loads.
bool encode_fa3_kv_maps(const PrefillParams& p, int box_rows, Fa3KvMaps& maps);

}  // namespace klab::cuda::prefill
