// The `staged` fused decode variant: the decode chain's own GEMV (gemv mma_staged) with the
// RMSNorm computed in its prologue, so the rmsnorm_to_half launch leaves the chain.
#pragma once

#include <cstddef>

#include "klab/cuda/fused_decode.hpp"

namespace klab::cuda::fused {

// Whether `staged` takes the arguments: valid, tiled quantized weights, M <= kGemvMaxM, and
// (norm blocks) the staged x rows fit mma_staged (mma_staged_fits); QKV also needs the qkv rows
// in `workspace` (staged_qkv_bytes) and a qkv_rope_kv_write that accepts them.
bool staged_ok(const FusedNormGemvArgs& a);
bool staged_ok(const FusedNormQkvArgs& a);
bool staged_ok(const FusedGemvResidualArgs& a);

// Bytes of workspace the QKV block uses: the projection rows, f16 [M, (Hq + 2 Hkv) * D].
std::size_t staged_qkv_bytes(const FusedNormQkvArgs& a);

// mma_staged (+ norm prologue), PDL per a.pdl.
void run_staged(const FusedNormGemvArgs& a, cudaStream_t stream);
// mma_staged (+ norm prologue) into the workspace -> add_bias -> qkv_rope_kv_write.
void run_staged(const FusedNormQkvArgs& a, cudaStream_t stream);
// The GEMV registry's residual epilogue, variant auto (its _pdl twin when a.pdl): the kernels of
// the unfused chain.
void run_staged(const FusedGemvResidualArgs& a, cudaStream_t stream);

}  // namespace klab::cuda::fused
