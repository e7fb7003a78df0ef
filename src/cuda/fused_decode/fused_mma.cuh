// The fused decode kernel: [RMSNorm prologue] -> tensor-core GEMV -> epilogue, one 16-row tile
// of W per block (gate + up tiles for SwiGLU), 4 warps, M <= 8 tokens as the mma's n.
//
//   1. The block's first weight chunks (codes and scales, or dense rows) go into registers.
//   2. griddepcontrol.wait: under Programmatic Dependent Launch, steps 1 overlaps the previous
//      kernel's tail; x is read only after it (without PDL the wait returns at once).
//   3. The block's K slice of x goes into shared memory as f16: normalized (sum of squares over
//      the whole row, computed by every block: K is small, a launch is not) or copied.
//   4. The mma loop of mma_gemv.cuh (same fragment mapping, gemv_impl::mma_sub_chunk for the
//      quantized tiles; dense f16 rows load straight into A fragments) over the slice.
//   5. Warp partials summed in shared memory; with a K split, the cluster's partial tiles are
//      summed by its first block through distributed shared memory.
//   6. Epilogue: store / SwiGLU / residual add, or (qkv) bias, RoPE with the pair partner read
//      from whichever block of the head's cluster holds it, q and the cache rows written.
#pragma once

#include <cooperative_groups.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "cuda/common/launch_attrs.hpp"
#include "cuda/common/mma.cuh"
#include "cuda/common/quant_unpack.cuh"
#include "cuda/common/reduce.cuh"
#include "cuda/common/rope.cuh"
#include "cuda/common/smem_opt_in.hpp"
#include "cuda/fused_decode/fused_params.hpp"
#include "cuda/gemv/mma_gemv.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda::fused {

namespace cg = cooperative_groups;

template <int Bits>
constexpr int sub_chunks() {
  return chunk_cols(Bits) / 32;
}
// Chunks per warp in flight: dense chunks hold 4x the registers of quantized ones.
template <int Bits>
constexpr int unroll() {
  return Bits == kDenseBits ? 2 : 4;
}
template <FusedMode Mode>
constexpr int tiles_per_block() {
  return Mode == FusedMode::swiglu ? 2 : 1;
}

// One chunk of one tile, as loaded: quantized codes with their sub-chunks' scale (and min)
// pairs, or dense rows g and g + 8 per 32-column sub-chunk.
template <int Bits>
struct QuantFrag {
  uint4 codes;
  std::uint32_t scale[sub_chunks<Bits>()];
  std::uint32_t min[sub_chunks<Bits>()];
};
struct DenseFrag {
  uint4 w[2][2];  // [sub-chunk][row g, row g + 8]
};
template <int Bits>
using Frag = std::conditional_t<Bits == kDenseBits, DenseFrag, QuantFrag<Bits>>;

template <int N, class F>
__device__ __forceinline__ void static_for(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (f(std::integral_constant<int, I>{}), ...);
  }
  (std::make_integer_sequence<int, N>{});
}

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Barrier across the cluster (its shared memory becomes readable by the other blocks), or the
// block alone when the launch has no cluster.
__device__ __forceinline__ void cluster_sync(const FusedParams& p) {
  if (p.clustered())
    cg::this_cluster().sync();
  else
    __syncthreads();
}

// ---- weights -----------------------------------------------------------------------------

template <int Bits>
__device__ __forceinline__ QuantFrag<Bits> load_quant(const QuantTiledView& w, int group_shift,
                                                      std::int64_t tile, std::int64_t c, int lane) {
  QuantFrag<Bits> f{};
  if (tile >= w.tiles()) return f;  // a zero tile: zero codes, zero scales
  const int g = lane >> 2;
  f.codes = load_stream16(w.codes + ((tile * w.chunks() + c) * 32 + lane) * 16);
  const std::uint32_t* scales = w.scales + tile * w.groups_padded() * 8 + g;
  const std::uint32_t* mins = w.mins ? w.mins + tile * w.groups_padded() * 8 + g : nullptr;
#pragma unroll
  for (int s = 0; s < sub_chunks<Bits>(); ++s) {
    const std::int64_t grp = (c * chunk_cols(Bits) + 32 * s) >> group_shift;
    f.scale[s] = __ldg(scales + grp * 8);
    f.min[s] = mins ? __ldg(mins + grp * 8) : 0u;
  }
  return f;
}

// Rows g and g + 8 of the tile, columns 8t .. 8t + 7 of each 32-column sub-chunk: exactly the
// lane's A fragments under the k permutation of mma_gemv.cuh. Rows >= N and columns >= K
// (K % 8 == 0: a vector is wholly in or out) read as zero.
__device__ __forceinline__ DenseFrag load_dense(const __half* __restrict__ w, std::int64_t N,
                                                std::int64_t K, std::int64_t tile, std::int64_t c,
                                                int lane) {
  const int g = lane >> 2, t = lane & 3;
  DenseFrag f;
#pragma unroll
  for (int s = 0; s < 2; ++s)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const std::int64_t row = tile * kTileRows + g + 8 * h;
      const std::int64_t col = c * chunk_cols(kDenseBits) + 32 * s + 8 * t;
      f.w[s][h] = (row < N && col < K) ? load_stream16(w + row * K + col) : uint4{};
    }
  return f;
}

template <int Bits, FusedMode Mode>
__device__ __forceinline__ Frag<Bits> load_frag(const FusedParams& p, int i, std::int64_t tile,
                                                std::int64_t c, int lane) {
  const bool up = Mode == FusedMode::swiglu && i == 1;
  if constexpr (Bits == kDenseBits)
    return load_dense(static_cast<const __half*>(up ? p.wd_up : p.wd), p.N, p.K, tile, c, lane);
  else
    return load_quant<Bits>(up ? p.tw_up : p.tw, p.group_shift, tile, c, lane);
}

// acc[i] += tile i of chunk f · x, x from the staged rows (null: this lane's token is past M).
template <int Bits, int Tiles>
__device__ __forceinline__ void mma_chunk(const Frag<Bits> (&f)[Tiles], const __half* xrow, int col,
                                          int t, const CodeDecoder<__half, Bits == 8 ? 8 : 4>& dec,
                                          bool asymmetric, float (&acc)[Tiles][4]) {
  static_for<sub_chunks<Bits>()>([&](auto s) {
    constexpr int S = decltype(s)::value;
    uint4 xv{};
    if (xrow) xv = *reinterpret_cast<const uint4*>(xrow + col + 32 * S + 8 * t);
    if constexpr (Bits == kDenseBits) {
      const std::uint32_t b0[2] = {xv.x, xv.y}, b1[2] = {xv.z, xv.w};
#pragma unroll
      for (int i = 0; i < Tiles; ++i) {
        const uint4 &lo = f[i].w[S][0], &hi = f[i].w[S][1];
        const std::uint32_t a0[4] = {lo.x, hi.x, lo.y, hi.y}, a1[4] = {lo.z, hi.z, lo.w, hi.w};
        mma_m16n8k16<__half>(acc[i], a0, b0);
        mma_m16n8k16<__half>(acc[i], a1, b1);
      }
    } else {
      uint4 q[Tiles];
      float2 sc[Tiles], mn[Tiles];
#pragma unroll
      for (int i = 0; i < Tiles; ++i) {
        q[i] = f[i].codes;
        sc[i] = gemv_impl::f16x2_bits_to_float2(f[i].scale[S]);
        mn[i] = asymmetric ? gemv_impl::f16x2_bits_to_float2(f[i].min[S]) : float2{};
      }
      gemv_impl::mma_sub_chunk<__half, Bits, S, Tiles>(dec, q, xv, sc, mn, asymmetric, acc);
    }
  });
}

// ---- prologue: the block's K slice of x as f16 rows in shared memory -------------------------

// inv_rms[m] for m < M: the sum of squares of the whole row (f32 x, K % 4 == 0, 16-byte rows).
__device__ __forceinline__ void row_inv_rms(const FusedParams& p, float* inv_rms) {
  __shared__ float partial[kWarps][kMaxTokens];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t vecs = p.K / 4;
  float sum[kMaxTokens] = {};
  for (std::int64_t u = threadIdx.x; u < p.M * vecs; u += kThreads) {
    const std::int64_t m = u / vecs, k = (u - m * vecs) * 4;
    const float4 v = *reinterpret_cast<const float4*>(p.x32 + m * p.x_stride + k);
    const float sq = v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
#pragma unroll
    for (int j = 0; j < kMaxTokens; ++j)
      if (j == m) sum[j] += sq;  // unrolled compare keeps sum[] in registers
  }
#pragma unroll
  for (int j = 0; j < kMaxTokens; ++j) {
    if (j >= p.M) break;
    const float s = warp_sum(sum[j]);
    if (lane == 0) partial[warp][j] = s;
  }
  __syncthreads();
  if (threadIdx.x < p.M) {
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) s += partial[w][threadIdx.x];
    inv_rms[threadIdx.x] = rsqrtf(s / static_cast<float>(p.K) + p.eps);
  }
  __syncthreads();
}

__device__ __forceinline__ std::uint32_t half2_bits(float a, float b) {
  return as_bits(__floats2half2_rn(a, b));
}

// 8 columns of a normalized row, rounded once to f16: x * inv_rms * weight, in the order of
// rmsnorm_to_half, so the f16 inputs of the GEMV equal the unfused chain's.
__device__ __forceinline__ uint4 normalized8(const float* x, const float* w, float r) {
  const float4 a = *reinterpret_cast<const float4*>(x), b = *reinterpret_cast<const float4*>(x + 4);
  const float4 wa = __ldg(reinterpret_cast<const float4*>(w));
  const float4 wb = __ldg(reinterpret_cast<const float4*>(w + 4));
  return {half2_bits(a.x * r * wa.x, a.y * r * wa.y), half2_bits(a.z * r * wa.z, a.w * r * wa.w),
          half2_bits(b.x * r * wb.x, b.y * r * wb.y), half2_bits(b.z * r * wb.z, b.w * r * wb.w)};
}

// xs[m * pitch + j] = x[m][col0 + j] (normalized in the norm modes) for j < width; columns past
// K are zero, so the mma loop never tests them.
template <FusedMode Mode>
__device__ __forceinline__ void stage_x(const FusedParams& p, std::int64_t col0, int width,
                                        int pitch, __half* xs) {
  __shared__ float inv_rms[kMaxTokens];
  if constexpr (has_norm(Mode)) row_inv_rms(p, inv_rms);
  const int vecs = width / 8;
  for (int u = threadIdx.x; u < p.M * vecs; u += kThreads) {
    const int m = u / vecs, j = (u - m * vecs) * 8;
    const std::int64_t col = col0 + j;
    uint4 v{};
    if (col < p.K) {
      if constexpr (has_norm(Mode))
        v = normalized8(p.x32 + m * p.x_stride + col, p.norm_w + col, inv_rms[m]);
      else
        v = *reinterpret_cast<const uint4*>(static_cast<const __half*>(p.x16) + m * p.K + col);
    }
    *reinterpret_cast<uint4*>(xs + m * pitch + j) = v;
  }
  __syncthreads();
}

// ---- epilogues -------------------------------------------------------------------------------

// Store / SwiGLU / residual add of warp 0's summed tile (acc[r]: row g + 8 (r / 2), token
// 2t + r % 2).
template <FusedMode Mode, int Tiles>
__device__ __forceinline__ void store_tile(const FusedParams& p, std::int64_t tile,
                                           const float (&acc)[Tiles][4], int lane) {
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int token = 2 * t + (r & 1);
    const std::int64_t row = tile * kTileRows + g + 8 * (r >> 1);
    if (token >= p.M || row >= p.N) continue;
    const std::int64_t idx = token * p.N + row;
    float v = acc[0][r];
    if constexpr (Mode == FusedMode::swiglu) v = gemv_impl::silu(v) * acc[Tiles - 1][r];
    if constexpr (Mode == FusedMode::residual) {
      static_cast<float*>(p.y)[idx] += v;
    } else if (p.y_f32) {
      static_cast<float*>(p.y)[idx] = v;
    } else {
      static_cast<__half*>(p.y)[idx] = __float2half_rn(v);
    }
  }
}

// qkv: element (row r of this tile, token m) after bias and RoPE, written to q or the cache.
// vals[r][m] holds the tile's pre-rotation values; a pair's partner row is read from the block
// of the head's cluster that holds it (rank = its tile's index within the head).
__device__ __forceinline__ void rope_store(const FusedParams& p, std::int64_t tile,
                                           float (&vals)[kTileRows][kMaxTokens]) {
  const int r = threadIdx.x % kTileRows, m = threadIdx.x / kTileRows;
  if (m >= p.M) return;
  const int D = p.head_dim;
  const std::int64_t row = tile * kTileRows + r;
  const int h = static_cast<int>(row / D), d = static_cast<int>(row % D);
  const std::int32_t pos = p.positions[m];
  float v = vals[r][m];
  if (h < p.hq + p.hkv && d < p.rot_dim) {
    const int half = p.rot_dim / 2;
    const bool first = p.half_split ? d < half : (d & 1) == 0;
    const int partner = p.half_split ? (first ? d + half : d - half) : d ^ 1;
    const int pair = p.half_split ? (first ? d : d - half) : d >> 1;
    const std::int64_t prow = std::int64_t{h} * D + partner;
    const std::int64_t ptile = prow / kTileRows;
    float* pv = &vals[prow % kTileRows][m];
    if (ptile != tile) {  // same head, so the same cluster: rank = tile offset in the head
      const std::int64_t head_tile0 = tile - blockIdx.x % p.cluster_x;
      pv = cg::this_cluster().map_shared_rank(pv, static_cast<unsigned>(ptile - head_tile0));
    }
    const float x1 = *pv;
    float s, c;
    rope_sincos(pos, rope_inv_freq(pair, p.rot_dim, p.theta, p.inv_freq), s, c);
    v = first ? v * c - x1 * s : v * c + x1 * s;
  }
  const __half out = __float2half_rn(v);
  if (h < p.hq) {
    static_cast<__half*>(p.q)[m * p.q_stride + row] = out;  // heads packed: h * D + d == row
    return;
  }
  const bool is_k = h < p.hq + p.hkv;
  const std::int64_t at = p.cache.offset(p.seq_ids[m], pos, is_k ? h - p.hq : h - p.hq - p.hkv);
  if (at < 0) return;  // the cache cannot address (sequence, position): dropped
  static_cast<__half*>(is_k ? p.cache.k : p.cache.v)[at + d] = out;
}

// ---- the kernel ----------------------------------------------------------------------------

template <int Bits, FusedMode Mode>
__global__ void __launch_bounds__(kThreads)
    fused_mma_kernel(const __grid_constant__ FusedParams p) {
  constexpr int kTiles = tiles_per_block<Mode>();
  constexpr int kUnroll = unroll<Bits>();
  constexpr int kCols = chunk_cols(Bits);
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __half* xs = reinterpret_cast<__half*>(smem_raw);
  __shared__ float red[kWarps][kTiles][4][32];
  __shared__ float part[kTiles][4][32];
  __shared__ float vals[kTileRows][kMaxTokens];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t tile = blockIdx.x;
  const int ks = static_cast<int>(blockIdx.y);  // K slice
  const std::int64_t c0 = p.chunks * ks / p.split, c1 = p.chunks * (ks + 1) / p.split;
  const int width = static_cast<int>((c1 - c0) * kCols), pitch = width + kPadHalves;

  // 1. First weights in flight before anything the previous kernel writes is read.
  Frag<Bits> f[kUnroll][kTiles];
  std::int64_t base = c0 + warp;
  const auto load_batch = [&] {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t c = base + kWarps * u;
#pragma unroll
      for (int i = 0; i < kTiles; ++i)
        f[u][i] = c < c1 ? load_frag<Bits, Mode>(p, i, tile, c, lane) : Frag<Bits>{};
    }
  };
  load_batch();
  // 2. + 3.
  pdl_wait();
  stage_x<Mode>(p, c0 * kCols, width, pitch, xs);

  // 4. The mma loop over this block's chunks.
  const CodeDecoder<__half, Bits == 8 ? 8 : 4> dec(p.zero_point);
  const bool asymmetric = Bits != kDenseBits && p.tw.asymmetric;
  const __half* xrow = g < p.M ? xs + g * pitch : nullptr;
  float acc[kTiles][4] = {};
  while (base < c1) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t c = base + kWarps * u;
      if (c >= c1) break;
      mma_chunk<Bits, kTiles>(f[u], xrow, static_cast<int>((c - c0) * kCols), t, dec, asymmetric,
                              acc);
    }
    base += kWarps * kUnroll;
    if (base < c1) load_batch();
  }
  // Our weights are streamed: a PDL successor may start loading its own.
  pdl_launch_dependents();

  // 5. Sum the warps' tiles, then (K split) the cluster's slices into its first block.
#pragma unroll
  for (int i = 0; i < kTiles; ++i)
#pragma unroll
    for (int r = 0; r < 4; ++r) red[warp][i][r][lane] = acc[i][r];
  __syncthreads();
  if (warp == 0) {
#pragma unroll
    for (int i = 0; i < kTiles; ++i)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        float v = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) v += red[w][i][r][lane];
        acc[i][r] = v;
        part[i][r][lane] = v;
      }
  }
  if (p.split > 1) {
    cluster_sync(p);
    if (ks == 0 && warp == 0) {
      const cg::cluster_group cluster = cg::this_cluster();
      for (int s = 1; s < p.split; ++s) {
        const unsigned rank = cluster.block_rank() + static_cast<unsigned>(s * p.cluster_x);
#pragma unroll
        for (int i = 0; i < kTiles; ++i)
#pragma unroll
          for (int r = 0; r < 4; ++r)
            acc[i][r] += *cluster.map_shared_rank(&part[i][r][lane], rank);
      }
    }
  }

  // 6. Epilogue (the first block of each K split).
  if constexpr (Mode == FusedMode::qkv) {
    if (ks == 0 && warp == 0) {
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int token = 2 * t + (r & 1), row = g + 8 * (r >> 1);
        vals[row][token] = acc[0][r] + (p.bias ? __ldg(p.bias + tile * kTileRows + row) : 0.0f);
      }
    }
    cluster_sync(p);  // every tile of the head is in its block's vals
    if (ks == 0) rope_store(p, tile, vals);
  } else {
    if (ks == 0 && warp == 0) store_tile<Mode, kTiles>(p, tile, acc, lane);
  }
  // Keep this block's shared memory alive until the cluster has read it.
  if (p.clustered()) cg::this_cluster().sync();
}

// ---- host launch ---------------------------------------------------------------------------

template <int Bits, FusedMode Mode>
void launch_fused(const FusedParams& p, cudaStream_t stream) {
  constexpr auto* kernel = &fused_mma_kernel<Bits, Mode>;
  if (p.smem_bytes > 48 * 1024) {  // above the default 48 KiB a kernel must opt in
    const KernelSmem& ks = kernel_smem<kernel>(SIZE_MAX, "fused_mma_kernel");
    check_dynamic_smem(p.smem_bytes, ks, "fused decode (mma)");
  }
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(static_cast<unsigned>(p.tiles), static_cast<unsigned>(p.split), 1);
  cfg.blockDim = dim3(kThreads, 1, 1);
  cfg.dynamicSmemBytes = p.smem_bytes;
  cfg.stream = stream;
  LaunchAttrs attrs;
  if (p.clustered())
    attrs.cluster(static_cast<unsigned>(p.cluster_x), static_cast<unsigned>(p.split));
  attrs.pdl(p.pdl).apply(cfg);
  check(cudaLaunchKernelEx(&cfg, kernel, p), "cudaLaunchKernelEx(fused_mma_kernel)");
  check_launch("fused_mma_kernel");
}

// f(std::integral_constant<int, bits>) for 4, 8 and kDenseBits.
template <class F>
void dispatch_weights(int bits, F&& f) {
  if (bits == 4) return f(std::integral_constant<int, 4>{});
  if (bits == 8) return f(std::integral_constant<int, 8>{});
  if (bits == kDenseBits) return f(std::integral_constant<int, kDenseBits>{});
  fail("fused decode: weights must be 4-bit, 8-bit or dense f16, got bits " + std::to_string(bits));
}

}  // namespace klab::cuda::fused
