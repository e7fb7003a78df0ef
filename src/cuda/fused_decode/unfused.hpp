// The bottom of the fused-decode ladder: the engine's existing kernels in sequence, with the
// intermediate activations in the caller's workspace.
#pragma once

#include <cstddef>

#include "klab/cuda/fused_decode.hpp"

namespace klab::cuda::fused {

// Workspace layout: h (f16 [M, K], the normalized rows), then for QKV the projection (f16
// [M, (Hq + 2*Hkv) * D]) at the next 256-byte boundary.
std::size_t unfused_bytes(const FusedNormGemvArgs& a);
std::size_t unfused_bytes(const FusedNormQkvArgs& a);

// rmsnorm_to_half -> gemv (none | swiglu).
void run_unfused(const FusedNormGemvArgs& a, cudaStream_t stream);
// rmsnorm_to_half -> gemv -> add_bias -> qkv_rope_kv_write.
void run_unfused(const FusedNormQkvArgs& a, cudaStream_t stream);
// gemv with the residual epilogue, y in place.
void run_unfused(const FusedGemvResidualArgs& a, cudaStream_t stream);

}  // namespace klab::cuda::fused
