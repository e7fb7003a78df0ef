// Decode variant `tiled`: the tile kernel (decode_tile.cuh) with one block per (sequence, KV
// head, query-head tile) over the whole length, writing `out` directly.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/launch_util.hpp"
#include "klab/error.hpp"

namespace klab::cuda::decode {

bool tile_supports(const DecodeParams& p) {
  if (p.dtype != DType::f16 && p.dtype != DType::bf16) return false;
  if (p.cache.head_dim != 64 && p.cache.head_dim != 128 && p.cache.head_dim != 256) return false;
  constexpr std::int64_t kVec = 8;
  const std::int64_t strides[] = {p.cache.block_stride, p.cache.row_stride, p.cache.head_stride,
                                  p.q_stride_b, p.q_stride_h};
  for (std::int64_t s : strides)
    if (s % kVec != 0) return false;
  return is_aligned(p.cache.k, 16) && is_aligned(p.cache.v, 16) && is_aligned(p.q, 16);
}

void launch_decode_tile(const DecodeParams& p, cudaStream_t stream) {
  if (p.dtype == DType::f16) return launch_decode_tile_typed<__half>(p, stream);
  if (p.dtype == DType::bf16) return launch_decode_tile_typed<__nv_bfloat16>(p, stream);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

int decode_tile_blocks_per_sm(DType dtype, int head_dim, int gt) {
  if (dtype == DType::f16) return decode_tile_blocks_per_sm_typed<__half>(head_dim, gt);
  if (dtype == DType::bf16) return decode_tile_blocks_per_sm_typed<__nv_bfloat16>(head_dim, gt);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

void launch_tiled(const DecodeParams& p, cudaStream_t stream) {
  DecodeParams whole = p;
  whole.max_splits = 1;
  whole.chunk = 0;
  launch_decode_tile(whole, stream);
}

}  // namespace klab::cuda::decode
