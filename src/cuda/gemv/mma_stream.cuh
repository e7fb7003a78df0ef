// The streaming tensor-core GEMV with every operand in the ring (variant mma_stream).
//
// Same per-chunk math as `mma` (mma_gemv.cuh) and the same persistent, warp-owns-a-K-slice
// structure as `mma_pipelined`, but built around what the H100 measurements and the SASS of
// those two showed (docs/kernels/gemv.md, "Round 2"):
//   * Every operand of an item is loaded D items ahead: the 16-byte codes, the scale (and min)
//     words AND the x fragments. In `mma` x and the scales are loaded right before their HMMA
//     (one L1/L2 round trip per chunk on the warp's critical path); in `mma_pipelined` x is
//     loaded one item ahead, so each item still waits an L2 latency. Here a warp only waits when
//     DRAM itself is behind.
//   * Ring depth D = 64 registers / slot size: 4 (4-bit sym), 3 (4-bit asym), 6 (8-bit sym),
//     5 (8-bit asym), 2-3 (SwiGLU); 2 blocks of 8 warps per SM (96-127 registers, no spills).
//   * Tiles are split over the blocks as evenly as possible (floor / ceil of tiles / blocks),
//     not in ceil-sized runs that leave some resident slots empty.
//   * Per-tile partials through shared memory, one barrier, fixed-order sum (deterministic).
//   * PDL variant: the ring's first code / scale loads are issued before griddepcontrol.wait,
//     its x loads after it.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/launch_util.hpp"
#include "cuda/gemv/mma_gemv.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

namespace stream {

constexpr int kWarps = 8;  // warps per block, each a slice of K
// Resident blocks per SM the register cap is set for: 2 (<= 128 registers). A cap of 3 (80)
// spilled even with a 3-slot ring (the 64-bit address arithmetic of three load streams).
constexpr int kMinBlocksPerSm = 2;
// Registers per lane spent on the ring (codes + scales + mins + x of D items).
constexpr int kRingWords = 64;
constexpr int kPartFloats = 4 * 32;  // partials per tile matrix and warp: 4 floats per lane
constexpr int kMaxPartBytes = 32 * 1024;

template <bool Swiglu>
constexpr int tiles_per_item() {
  return Swiglu ? 2 : 1;
}
template <int Bits, bool Swiglu, bool Asym>
constexpr int ring_depth() {
  constexpr int sub = Bits == 4 ? 2 : 1;
  constexpr int words = tiles_per_item<Swiglu>() * (4 + sub * (Asym ? 2 : 1)) + 4 * sub;
  return std::clamp(kRingWords / words, 2, 6);
}
template <bool Swiglu>
constexpr int max_tiles_per_block() {
  return kMaxPartBytes / (kWarps * tiles_per_item<Swiglu>() * kPartFloats * 4);
}

// One ring slot: a chunk's codes per tile matrix, its sub-chunks' scale / min words, and the
// x fragments (row g, columns 8t .. 8t + 7 of each 32-column sub-chunk).
template <int Tiles, int Sub, bool Asym>
struct Slot {
  uint4 q[Tiles];
  std::uint32_t sc[Tiles][Sub];
  std::uint32_t mn[Tiles][Asym ? Sub : 1];
  uint4 x[Sub];
};

struct Cursor {
  int tile = 0;  // block-local tile index
  int chunk = 0;
  __device__ __forceinline__ void advance(int c_begin, int c_end) {
    if (++chunk == c_end) {
      chunk = c_begin;
      ++tile;
    }
  }
};

}  // namespace stream

template <class T, int Bits, bool Swiglu, bool Asym>
__global__ void __launch_bounds__(stream::kWarps * 32, stream::kMinBlocksPerSm)
    gemv_mma_stream_kernel(GemvParams p) {
  using namespace stream;
  constexpr int kTiles = tiles_per_item<Swiglu>();
  constexpr int kDepth = ring_depth<Bits, Swiglu, Asym>();
  constexpr int kChunkCols = 256 / Bits;
  constexpr int kSub = Bits == 4 ? 2 : 1;
  using SlotT = Slot<kTiles, kSub, Asym>;
  extern __shared__ float part[];  // [ntiles][kWarps][kTiles][4][32]

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int chunks = static_cast<int>(p.tw.chunks());
  const std::int64_t groups = p.tw.groups_padded(), tiles = p.tw.tiles();
  // Even split: block b owns tiles [tiles b / B, tiles (b + 1) / B).
  const std::int64_t tile0 = tiles * blockIdx.x / gridDim.x;
  const int ntiles = static_cast<int>(tiles * (blockIdx.x + 1) / gridDim.x - tile0);
  const int c_begin = chunks * warp / kWarps, c_end = chunks * (warp + 1) / kWarps;
  const int per_tile = c_end - c_begin;
  const int items = per_tile * ntiles;

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
  const bool x_live = g < p.M;
  const T* xrow = static_cast<const T*>(p.x) + (x_live ? g : 0) * p.K + 8 * t;

  const auto load_w = [&](const Cursor& at, SlotT& s) {
    const std::int64_t code_off = at.tile * tile_code_bytes + at.chunk * 512;
    const std::int64_t grp = (static_cast<std::int64_t>(at.chunk) * kChunkCols) >> p.group_shift;
    const std::int64_t sc_off = at.tile * tile_scale_words + grp * 8;
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
  };
  const auto load_x = [&](const Cursor& at, SlotT& s) {
#pragma unroll
    for (int S = 0; S < kSub; ++S) {
      const std::int64_t col = static_cast<std::int64_t>(at.chunk) * kChunkCols + 32 * S;
      s.x[S] = (x_live && col < p.K) ? __ldg(reinterpret_cast<const uint4*>(xrow + col)) : uint4{};
    }
  };

  const CodeDecoder<T, Bits> dec(p.zero_point);
  const auto consume = [&](const SlotT& s, float(&acc)[kTiles][4]) {
    const auto sub = [&](auto sub_index) {
      constexpr int S = decltype(sub_index)::value;
      float2 sc[kTiles], mn[kTiles];
#pragma unroll
      for (int i = 0; i < kTiles; ++i) {
        sc[i] = f16x2_bits_to_float2(s.sc[i][S]);
        mn[i] = Asym ? f16x2_bits_to_float2(s.mn[i][Asym ? S : 0]) : float2{};
      }
      mma_sub_chunk<T, Bits, S, kTiles>(dec, s.q, s.x[S], sc, mn, Asym, acc);
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

  decode::pdl_launch_dependents();
  // Prologue: the first D items' weights (not written by the previous kernel), then, once the
  // previous kernel is complete, their x fragments.
  SlotT ring[kDepth];
  Cursor load_at{0, c_begin};
#pragma unroll
  for (int s = 0; s < kDepth; ++s) {
    if (s < items) load_w(load_at, ring[s]);
    load_at.advance(c_begin, c_end);
  }
  decode::pdl_wait();
  {
    Cursor at{0, c_begin};
#pragma unroll
    for (int s = 0; s < kDepth; ++s) {
      if (s < items) load_x(at, ring[s]);
      at.advance(c_begin, c_end);
    }
  }

  float acc[kTiles][4] = {};
  if (per_tile == 0) {  // more warps than chunks: this warp's partials are zero
    for (int tile = 0; tile < ntiles; ++tile) flush(tile, acc);
  }
  Cursor use_at{0, c_begin};
  for (int base = 0; base < items; base += kDepth) {
#pragma unroll
    for (int s = 0; s < kDepth; ++s) {
      if (base + s >= items) break;
      consume(ring[s], acc);
      if (base + s + kDepth < items) {  // refill the slot with the item D ahead
        load_w(load_at, ring[s]);
        load_x(load_at, ring[s]);
        load_at.advance(c_begin, c_end);
      }
      const int tile = use_at.tile;
      use_at.advance(c_begin, c_end);
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

// Resident blocks of `Kernel` per SM with `smem` bytes of partials (queried once per kernel).
template <auto* Kernel>
int stream_blocks_per_sm(std::size_t smem) {
  static const int blocks = [smem] {
    int n = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, Kernel, stream::kWarps * 32, smem),
          "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    return std::max(n, 1);
  }();
  return blocks;
}

template <class T, int Bits, bool Swiglu, bool Asym>
void launch_mma_stream_kernel(const GemvParams& p, cudaStream_t stream, bool pdl) {
  using namespace stream;
  constexpr auto* kernel = &gemv_mma_stream_kernel<T, Bits, Swiglu, Asym>;
  constexpr int kMaxTiles = max_tiles_per_block<Swiglu>();
  constexpr std::size_t kTileBytes = kWarps * tiles_per_item<Swiglu>() * kPartFloats * 4;
  const std::int64_t tiles = p.tw.tiles();
  const std::int64_t resident =
      std::int64_t{stream_blocks_per_sm<kernel>(kMaxTiles * kTileBytes)} * device_sm_count();
  // One wave of at most `resident` blocks, each with at most kMaxTiles tiles (its partials).
  const std::int64_t blocks = std::clamp(resident, ceil_div(tiles, kMaxTiles), tiles);
  const auto max_per_block = static_cast<int>(ceil_div(tiles, blocks));
  decode::launch_maybe_pdl(kernel, dim3(static_cast<unsigned>(blocks)), dim3(kWarps * 32),
                           max_per_block * kTileBytes, stream, pdl, "gemv_mma_stream_kernel", p);
}

template <class T>
void launch_mma_stream_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  const bool swiglu = p.epilogue == Epilogue::swiglu, asym = p.tw.asymmetric;
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    if (swiglu)
      asym ? launch_mma_stream_kernel<T, B, true, true>(p, stream, pdl)
           : launch_mma_stream_kernel<T, B, true, false>(p, stream, pdl);
    else
      asym ? launch_mma_stream_kernel<T, B, false, true>(p, stream, pdl)
           : launch_mma_stream_kernel<T, B, false, false>(p, stream, pdl);
  });
}

}  // namespace klab::cuda::gemv_impl

namespace klab::cuda::gemv_impl {
// One translation unit per activation dtype (nvcc time on 2-core CI).
extern template void launch_mma_stream_act<__half>(const GemvParams&, cudaStream_t, bool);
extern template void launch_mma_stream_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl
