// Prefill variant `mma_fa2_v2`: dtype dispatch (kernel in mma_fa2_v2.cuh; it supports what
// mma_fa2 supports).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_prefill/prefill_params.hpp"
#include "klab/error.hpp"

namespace klab::cuda::prefill {

void launch_mma_fa2_v2(const PrefillParams& p, cudaStream_t stream) {
  if (p.max_q_len <= 0) return;
  if (p.dtype == DType::f16) return launch_mma_fa2_v2_typed<__half>(p, stream);
  if (p.dtype == DType::bf16) return launch_mma_fa2_v2_typed<__nv_bfloat16>(p, stream);
  fail("prefill_attention: dtype must be f16 or bf16");
}

}  // namespace klab::cuda::prefill
