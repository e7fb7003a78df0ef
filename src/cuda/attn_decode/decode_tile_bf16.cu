// The decode tile kernel (see decode_tile.cuh) for bf16 K/V: head dims 64 / 128 / 256, query
// head tiles 1 / 4 / 8. One translation unit per dtype keeps nvcc's work per file small.
#include "cuda/attn_decode/decode_tile.cuh"

namespace klab::cuda::decode {

template void launch_decode_tile_typed<__nv_bfloat16>(const DecodeParams& p, cudaStream_t stream);
template int decode_tile_blocks_per_sm_typed<__nv_bfloat16>(int head_dim, int group_tile);

}  // namespace klab::cuda::decode
