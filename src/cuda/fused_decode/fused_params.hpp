// What the fused decode kernels launch on: one plain struct for every mode (the epilogue) and
// weight kind, the launch geometry the host plans, and each mode's entry point. The kernel
// template lives in fused_mma.cuh; each mode is instantiated in its own .cu file.
#pragma once

#include <cstddef>
#include <cstdint>

#include "klab/cuda/kv_cache.hpp"
#include "klab/cuda/quant_matrix.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::fused {

enum class FusedMode : std::uint8_t {
  store,     // y = rmsnorm(x) · Wᵀ            (norm prologue)
  swiglu,    // y = silu(h · Wgᵀ) ⊙ (h · Wuᵀ)  (norm prologue)
  qkv,       // + bias, RoPE, q out, k and v into the cache (norm prologue)
  residual,  // y += x · Wᵀ, x f16, y f32      (no prologue)
};

constexpr bool has_norm(FusedMode m) {
  return m != FusedMode::residual;
}

constexpr int kWarps = 4;  // warps per block: small blocks, many of them
constexpr int kThreads = kWarps * 32;
constexpr int kMaxTokens = 8;         // the mma's n: tokens per launch
constexpr int kTileRows = 16;         // the mma's m: weight rows per tile (kQuantTileRows)
constexpr int kDenseBits = 16;        // the "bits" of dense f16 weights in the dispatch
constexpr int kPadHalves = 8;         // 16 bytes after each staged x row: conflict-free B loads
constexpr int kMaxClusterBlocks = 8;  // portable cluster size

// Columns per weight chunk (one 16-byte load per lane per tile for quantized weights; dense
// chunks take the same 64 columns as 4-bit ones).
constexpr int chunk_cols(int bits) {
  return bits == 8 ? 32 : 64;
}

struct FusedParams {
  FusedMode mode = FusedMode::store;
  int M = 0;
  std::int64_t N = 0;  // output rows of W (and of y)
  std::int64_t K = 0;

  // Input: f32 rows to normalize (norm modes), or f16 rows (residual mode, contiguous).
  const float* x32 = nullptr;
  std::int64_t x_stride = 0;  // elements between rows of x32
  const float* norm_w = nullptr;
  float eps = 1e-5f;
  const void* x16 = nullptr;

  // Weights: tiled quantized (bits 4 / 8) or dense f16 [N, K] (bits = kDenseBits).
  int bits = 4;
  QuantTiledView tw, tw_up;
  const void* wd = nullptr;
  const void* wd_up = nullptr;
  int group_shift = 5;
  int zero_point = 0;

  // Output of the store / swiglu / residual modes: [M, N] contiguous.
  void* y = nullptr;
  bool y_f32 = false;

  // qkv mode: rows [q heads | k heads | v heads] of head_dim each.
  const float* bias = nullptr;
  void* q = nullptr;
  std::int64_t q_stride = 0;  // elements between tokens of q
  KvCacheView cache;
  const std::int32_t* positions = nullptr;
  const std::int32_t* seq_ids = nullptr;
  const float* inv_freq = nullptr;  // null: theta^(-2i/rot_dim)
  float theta = 10000.0f;
  int rot_dim = 0;
  bool half_split = true;
  int hq = 0, hkv = 0, head_dim = 0;

  // Geometry: grid (tiles, split); blocks of a cluster (cluster_x, split) share K (split) and,
  // in qkv mode, a head (cluster_x = head_dim / 16 tiles).
  std::int64_t tiles = 0;
  int split = 1;
  int cluster_x = 1;
  std::int64_t chunks = 0;     // weight chunks along K
  std::size_t smem_bytes = 0;  // dynamic: staged x rows
  bool pdl = false;

  constexpr bool clustered() const { return cluster_x * split > 1; }
};

void launch_norm_store(const FusedParams& p, cudaStream_t stream);
void launch_norm_swiglu(const FusedParams& p, cudaStream_t stream);
void launch_norm_qkv(const FusedParams& p, cudaStream_t stream);
void launch_residual(const FusedParams& p, cudaStream_t stream);

}  // namespace klab::cuda::fused
