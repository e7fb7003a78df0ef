// Prefill variant `mma_fa2`: dtype dispatch and what it supports (kernel in mma_fa2.cuh).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_prefill/prefill_params.hpp"
#include "klab/error.hpp"

namespace klab::cuda::prefill {

bool mma_fa2_supports(const PrefillParams& p) {
  return vectorizable(p) && (p.head_dim == 64 || p.head_dim == 128);
}

void launch_mma_fa2(const PrefillParams& p, cudaStream_t stream) {
  if (p.max_q_len <= 0) return;
  if (p.dtype == DType::f16) return launch_mma_fa2_typed<__half>(p, stream);
  if (p.dtype == DType::bf16) return launch_mma_fa2_typed<__nv_bfloat16>(p, stream);
  fail("prefill_attention: dtype must be f16 or bf16");
}

}  // namespace klab::cuda::prefill
