// Entry points of the prefill variant `wgmma_fa3` (kernel in wgmma_fa3.cuh, instantiated per
// dtype in wgmma_fa3_<dtype>.cu; support checks in wgmma_fa3.cu).
#pragma once

#include "cuda/attn_prefill/prefill_params.hpp"

namespace klab::cuda::prefill {

// Head dim 64 or 128, 16-byte vectorizable operands, on a device that runs this build's sm_90a
// code (compute capability 9.0 and a binary compiled for 90a).
bool wgmma_fa3_supports(const PrefillParams& p);
void launch_wgmma_fa3(const PrefillParams& p, cudaStream_t stream);

template <class T>
void launch_wgmma_fa3_typed(const PrefillParams& p, cudaStream_t stream);

}  // namespace klab::cuda::prefill
