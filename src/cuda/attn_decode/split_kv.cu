// Decode variant `split_kv` (flash-decoding): the tile kernel over the chunks chosen by
// plan_decode_attention, each block writing a partial (normalised acc, log2-sum-exp) to the
// workspace, then the combine kernel. Sequences that end up with one split are written
// directly by the tile kernel and skipped by the combine.
#include "cuda/attn_decode/decode_params.hpp"

namespace klab::cuda::decode {

void launch_split_kv(const DecodeParams& p, cudaStream_t stream) {
  launch_decode_tile(p, stream);
  if (p.max_splits > 1) launch_combine(p, stream);
}

}  // namespace klab::cuda::decode
