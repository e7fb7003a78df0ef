// Decode variants of the tensor-core rung (kernel in decode_mma.cuh):
//   tiled_mma         the mma kernel over each sequence's whole length, writing `out`
//   split_kv_mma      the mma kernel over plan_decode_attention's chunks + combine_heads
//   split_kv_mma_pdl  the same two kernels launched with programmatic stream serialization:
//                     each one's launch and block scheduling overlap the previous kernel's
//                     tail (the combine's ~2-3 us launch gap is the largest fixed cost of a
//                     short decode); both wait for their inputs in pdl_wait().
// Sequences that end up with one split are written directly and skipped by the combine.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/launch_util.hpp"
#include "klab/error.hpp"

namespace klab::cuda::decode {

bool mma_supports(const DecodeParams& p) {
  if (!tile_supports(p)) return false;
  return p.out_stride_b % 8 == 0 && p.out_stride_h % 8 == 0 && is_aligned(p.out, 16);
}

void launch_decode_mma(const DecodeParams& p, cudaStream_t stream, bool pdl) {
  if (p.dtype == DType::f16) return launch_decode_mma_typed<__half>(p, stream, pdl);
  if (p.dtype == DType::bf16) return launch_decode_mma_typed<__nv_bfloat16>(p, stream, pdl);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

int decode_mma_blocks_per_sm(DType dtype, int head_dim) {
  if (dtype == DType::f16) return decode_mma_blocks_per_sm_typed<__half>(head_dim);
  if (dtype == DType::bf16) return decode_mma_blocks_per_sm_typed<__nv_bfloat16>(head_dim);
  fail("decode_attention: K/V dtype must be f16 or bf16");
}

void launch_tiled_mma(const DecodeParams& p, cudaStream_t stream) {
  DecodeParams whole = p;
  whole.max_splits = 1;
  whole.chunk = 0;
  launch_decode_mma(whole, stream, false);
}

void launch_split_kv_mma(const DecodeParams& p, cudaStream_t stream, bool pdl) {
  launch_decode_mma(p, stream, pdl);
  if (p.max_splits > 1) launch_combine_heads(p, stream, pdl);
}

}  // namespace klab::cuda::decode
