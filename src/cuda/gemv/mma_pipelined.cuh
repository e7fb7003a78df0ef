// The streaming tensor-core GEMV (variant mma_pipelined) on the tiled layout.
//
// Same math per 512-byte chunk as `mma` (mma_gemv.cuh: a lane's 16-byte load is its A fragments;
// x^T is B, M padded to 8), but organised so every SM keeps ~64 KB of weight loads in flight for
// the whole kernel instead of draining between short load/compute rounds:
//   * Persistent, single-wave grid: as many blocks as fit on the GPU at once; block b owns
//     `tiles_per_block` consecutive 16-row tiles. Warp w owns the same contiguous chunk slice
//     [C w / W, C (w + 1) / W) of every tile, so all warps get the same work (they finish
//     together: the tail is one pipeline drain) and each warp re-reads the same x slice (L1 hits
//     after the first tile).
//   * A register ring of D slots per warp: slot = the chunk's 16-byte codes plus its scale (and
//     min) words. A slot is refilled with the item D ahead right after it is consumed, so D loads
//     per lane are always outstanding, across tile boundaries too (items are tile-major). The x
//     fragments of the next item are loaded one item ahead (an L2 round trip when x is not yet
//     in L1 would otherwise sit on every item's critical path).
//   * Per-tile partial sums go to shared memory; one barrier at the end, then the block sums the
//     W partials of each of its tiles in a fixed order (deterministic) and applies the epilogue.
//   * Programmatic dependent launch (variant mma_pipelined_pdl): the ring's first D loads read
//     only weights, so they are issued before griddepcontrol.wait; x, y and the residual are
//     touched only after it. Launched without the attribute, both PDL instructions are no-ops.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/launch_util.hpp"
#include "cuda/gemv/mma_gemv.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

namespace pipelined {

constexpr int kWarps = 8;  // W: warps per block, each a slice of K
// Registers per lane spent on the ring: D = kRingWords / (words per slot), 2..8 slots. 48 keeps
// every instantiation under the 128 registers of two 256-thread blocks per SM without spills.
constexpr int kRingWords = 48;
// Partial sums per tile and warp: 4 floats per lane and tile matrix.
constexpr int kPartFloats = 4 * 32;
// Shared memory budget of the per-tile partials (no opt-in needed below 48 KB).
constexpr int kMaxPartBytes = 32 * 1024;

template <bool Swiglu>
constexpr int tiles_per_item() {
  return Swiglu ? 2 : 1;
}
// Ring slots: 8 (4-bit symmetric, 8-bit), 6 (4-bit asymmetric), 3..4 (SwiGLU: two tiles).
template <int Bits, bool Swiglu, bool Asym>
constexpr int ring_depth() {
  constexpr int sub = Bits == 4 ? 2 : 1;
  constexpr int words = tiles_per_item<Swiglu>() * (4 + sub * (Asym ? 2 : 1));
  return std::clamp(kRingWords / words, 2, 8);
}
template <bool Swiglu>
constexpr int max_tiles_per_block() {
  return kMaxPartBytes / (kWarps * tiles_per_item<Swiglu>() * kPartFloats * 4);
}

// One ring slot: the codes of one chunk of each tile matrix (gate, up), with the scale / min
// words of its 32-column sub-chunks.
template <int Tiles, int Sub, bool Asym>
struct Slot {
  uint4 q[Tiles];
  std::uint32_t sc[Tiles][Sub];
  std::uint32_t mn[Tiles][Asym ? Sub : 1];
};

// (tile, chunk) walker over a warp's items in tile-major order.
struct ItemCursor {
  int tile = 0;  // block-local tile index
  int chunk = 0;
  __device__ __forceinline__ void advance(int c_begin, int c_end) {
    if (++chunk == c_end) {
      chunk = c_begin;
      ++tile;
    }
  }
};

}  // namespace pipelined

template <class T, int Bits, bool Swiglu, bool Asym>
__global__ void __launch_bounds__(pipelined::kWarps * 32, 2)
    gemv_mma_pipelined_kernel(GemvParams p, int tiles_per_block) {
  using namespace pipelined;
  constexpr int kTiles = tiles_per_item<Swiglu>();
  constexpr int kDepthEff = ring_depth<Bits, Swiglu, Asym>();
  constexpr int kChunkCols = 256 / Bits;
  constexpr int kSub = Bits == 4 ? 2 : 1;  // 32-column sub-chunks per chunk
  using SlotT = Slot<kTiles, kSub, Asym>;
  extern __shared__ float part[];  // [tiles_per_block][kWarps][kTiles][4][32]

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const QuantTiledView& w0 = p.tw;
  const int chunks = static_cast<int>(w0.chunks());
  const std::int64_t groups = w0.groups_padded();
  const std::int64_t tile0 = static_cast<std::int64_t>(blockIdx.x) * tiles_per_block;
  const int ntiles = static_cast<int>(std::min<std::int64_t>(tiles_per_block, w0.tiles() - tile0));
  const int c_begin = chunks * warp / kWarps, c_end = chunks * (warp + 1) / kWarps;
  const int per_tile = c_end - c_begin;
  const int items = per_tile * ntiles;

  // Per-matrix bases of this block's first tile (lane / row-pair offsets folded in).
  const std::uint8_t* codes[kTiles];
  const std::uint32_t* scales[kTiles];
  const std::uint32_t* mins[kTiles];
#pragma unroll
  for (int i = 0; i < kTiles; ++i) {
    const QuantTiledView& w = i == 1 ? p.tw_up : p.tw;
    codes[i] = w.codes + (tile0 * chunks * 32 + lane) * 16;
    scales[i] = w.scales + tile0 * groups * 8 + g;
    mins[i] = Asym ? w.mins + tile0 * groups * 8 + g : nullptr;
  }
  const std::int64_t tile_code_bytes = static_cast<std::int64_t>(chunks) * 512;
  const std::int64_t tile_scale_words = groups * 8;
  const bool g32 = p.group_shift == 5;  // 4-bit: the two sub-chunks have their own groups

  ItemCursor load_at{0, c_begin};
  const auto refill = [&](SlotT& s) {
    if (load_at.tile < ntiles && per_tile > 0) {
      const std::int64_t code_off = load_at.tile * tile_code_bytes + load_at.chunk * 512;
      const std::int64_t grp =
          (static_cast<std::int64_t>(load_at.chunk) * kChunkCols) >> p.group_shift;
      const std::int64_t sc_off = load_at.tile * tile_scale_words + grp * 8;
#pragma unroll
      for (int i = 0; i < kTiles; ++i) {
        s.q[i] = load_stream16(codes[i] + code_off);
        s.sc[i][0] = __ldg(scales[i] + sc_off);
        if constexpr (kSub == 2) s.sc[i][1] = g32 ? __ldg(scales[i] + sc_off + 8) : s.sc[i][0];
        if constexpr (Asym) {
          s.mn[i][0] = __ldg(mins[i] + sc_off);
          if constexpr (kSub == 2) s.mn[i][1] = g32 ? __ldg(mins[i] + sc_off + 8) : s.mn[i][0];
        }
      }
      load_at.advance(c_begin, c_end);
    }
  };

  const CodeDecoder<T, Bits> dec(p.zero_point);
  const bool x_live = g < p.M;
  const T* xrow = static_cast<const T*>(p.x) + (x_live ? g : 0) * p.K + 8 * t;
  // x fragments (row g, columns 8t .. 8t + 7 of each sub-chunk) of one chunk; zero past K.
  const auto load_x = [&](int chunk, uint4(&xv)[kSub]) {
#pragma unroll
    for (int S = 0; S < kSub; ++S) {
      const std::int64_t col = static_cast<std::int64_t>(chunk) * kChunkCols + 32 * S;
      xv[S] = (x_live && col < p.K) ? __ldg(reinterpret_cast<const uint4*>(xrow + col)) : uint4{};
    }
  };
  const auto consume = [&](const SlotT& s, const uint4(&xv)[kSub], float(&acc)[kTiles][4]) {
    const auto sub = [&](auto sub_index) {
      constexpr int S = decltype(sub_index)::value;
      float2 sc[kTiles], mn[kTiles];
#pragma unroll
      for (int i = 0; i < kTiles; ++i) {
        sc[i] = f16x2_bits_to_float2(s.sc[i][S]);
        mn[i] = Asym ? f16x2_bits_to_float2(s.mn[i][Asym ? S : 0]) : float2{};
      }
      mma_sub_chunk<T, Bits, S, kTiles>(dec, s.q, xv[S], sc, mn, Asym, acc);
    };
    sub(std::integral_constant<int, 0>{});
    if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
  };

  float* my_part = part + warp * kTiles * kPartFloats + lane;
  const int tile_stride = kWarps * kTiles * kPartFloats;
  const auto flush = [&](int tile, float(&acc)[kTiles][4]) {
#pragma unroll
    for (int i = 0; i < kTiles; ++i)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        my_part[tile * tile_stride + (i * 4 + r) * 32] = acc[i][r];
        acc[i][r] = 0.0f;
      }
  };

  decode::pdl_launch_dependents();  // the next kernel may start its own weight loads
  SlotT ring[kDepthEff];
#pragma unroll
  for (int s = 0; s < kDepthEff; ++s) refill(ring[s]);
  decode::pdl_wait();  // x, y and the residual may come from the previous kernel

  float acc[kTiles][4] = {};
  if (per_tile == 0) {  // more warps than chunks: this warp's partials are zero
    for (int tile = 0; tile < ntiles; ++tile) flush(tile, acc);
  }
  ItemCursor use_at{0, c_begin};
  uint4 x_next[kSub];
  if (items > 0) load_x(c_begin, x_next);
  for (int base = 0; base < items; base += kDepthEff) {
#pragma unroll
    for (int s = 0; s < kDepthEff; ++s) {
      if (base + s >= items) break;
      uint4 xv[kSub];
#pragma unroll
      for (int S = 0; S < kSub; ++S) xv[S] = x_next[S];
      const int tile = use_at.tile;
      use_at.advance(c_begin, c_end);
      if (base + s + 1 < items) load_x(use_at.chunk, x_next);
      consume(ring[s], xv, acc);
      refill(ring[s]);
      if (use_at.tile != tile) flush(tile, acc);
    }
  }
  __syncthreads();

  // Sum the kWarps partials of each (tile, lane, r) in warp order; d[r] of lane (g, t) is row
  // g + 8 (r / 2) of the tile, token 2t + r % 2.
  for (int e = threadIdx.x; e < ntiles * kPartFloats; e += kWarps * 32) {
    const int tile = e / kPartFloats, rl = e % kPartFloats;
    const int r = rl / 32, l = rl % 32;
    const int token = 2 * (l & 3) + (r & 1);
    const std::int64_t row = (tile0 + tile) * kQuantTileRows + (l >> 2) + 8 * (r >> 1);
    if (token >= p.M || row >= p.N) continue;
    float v[kTiles];
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
      v[i] = 0.0f;
      const float* src = part + tile * tile_stride + (i * 4 + r) * 32 + l;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) v[i] += src[w * kTiles * kPartFloats];
    }
    if constexpr (Swiglu)
      store_out<T>(p, token * p.N + row, silu(v[0]) * v[1]);
    else
      store_out<T>(p, token * p.N + row, v[0]);
  }
}

// Blocks of `kernel` that fit on one SM with the largest partial buffer (queried once).
template <auto* Kernel>
int pipelined_blocks_per_sm(std::size_t smem) {
  static const int blocks = [smem] {
    int n = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, Kernel, pipelined::kWarps * 32, smem),
          "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    return std::max(n, 1);
  }();
  return blocks;
}

// Launches the kernel for one activation dtype (instantiated in mma_pipelined_{f16,bf16}.cu).
template <class T, int Bits, bool Swiglu, bool Asym>
void launch_mma_pipelined_kernel(const GemvParams& p, cudaStream_t stream, bool pdl) {
  using namespace pipelined;
  constexpr auto* kernel = &gemv_mma_pipelined_kernel<T, Bits, Swiglu, Asym>;
  constexpr int kMaxTiles = max_tiles_per_block<Swiglu>();
  constexpr std::size_t kTileBytes = kWarps * tiles_per_item<Swiglu>() * kPartFloats * 4;
  const std::int64_t tiles = p.tw.tiles();
  const std::int64_t resident =
      std::int64_t{pipelined_blocks_per_sm<kernel>(kMaxTiles * kTileBytes)} * device_sm_count();
  const auto per_block =
      static_cast<int>(std::clamp<std::int64_t>(ceil_div(tiles, resident), 1, kMaxTiles));
  const auto blocks = static_cast<unsigned>(ceil_div(tiles, per_block));
  decode::launch_maybe_pdl(kernel, dim3(blocks), dim3(kWarps * 32), per_block * kTileBytes, stream,
                           pdl, "gemv_mma_pipelined_kernel", p, per_block);
}

template <class T>
void launch_mma_pipelined_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  const bool swiglu = p.epilogue == Epilogue::swiglu, asym = p.tw.asymmetric;
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    if (swiglu)
      asym ? launch_mma_pipelined_kernel<T, B, true, true>(p, stream, pdl)
           : launch_mma_pipelined_kernel<T, B, true, false>(p, stream, pdl);
    else
      asym ? launch_mma_pipelined_kernel<T, B, false, true>(p, stream, pdl)
           : launch_mma_pipelined_kernel<T, B, false, false>(p, stream, pdl);
  });
}

}  // namespace klab::cuda::gemv_impl

namespace klab::cuda::gemv_impl {
// One translation unit per activation dtype (nvcc time on 2-core CI).
extern template void launch_mma_pipelined_act<__half>(const GemvParams&, cudaStream_t, bool);
extern template void launch_mma_pipelined_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl
