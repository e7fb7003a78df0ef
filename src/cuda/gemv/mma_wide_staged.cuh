// The wide-batch tensor-core GEMV with x staged once per block (variant mma_wide_staged): up to
// 16 tokens as two n-tiles of 8 (mma_wide's math), x [M][K] copied into shared memory once, and
// each block a persistent worker over a run of consecutive 16-row tiles whose codes and scale
// lines stream through a per-warp cp.async ring that runs on across tile boundaries.
//
// Why: in the batch-16 decode step (H100, Llama-2-7B Q4_0, session-8 timeline) mma_wide runs at
// 35-56% of its weight bytes: every 16-row tile's block reads all of x from L2 (at 16 tokens,
// 4x the 4-bit codes: 88 MB of L2 reads for the 50 MB gate/up pair), and its register-held code
// loads keep ~24 KiB in flight per SM. Here x is read once per block (one block per SM: about
// 132 x 128 KiB for K = 4096, against tiles x 128 KiB), and the ring keeps (D - 1) chunks a warp
// in flight, ~30-60 KiB per SM.
//
// Shared memory: x [M][cols_padded + 32 halves] (the row pad keeps a quarter-warp's 16-byte x
// loads on distinct banks), then the rings [warp][D][stage]; a stage is the chunk's codes
// [tiles][512 bytes] and its scale (and min) lines [kind][tiles][64 bytes] (the one or two
// 32-byte group lines the chunk's columns fall in). Fits while x is at most ~150 KiB (M = 16,
// K up to ~4.6k); larger x goes to mma_wide.
//
// PDL: the first D - 1 chunks (codes and scales) are requested before griddepcontrol.wait, x
// after it; dependents are released after the block's last main loop.
#pragma once

#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/gemv/mma_wide.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl::wide_staged {

constexpr int kWarps = 8;
constexpr int kNt = 2;  // n-tiles of 8 tokens: M <= 16
constexpr int kXPadHalves = 32;
// The most dynamic shared memory a launch asks for (227 KiB an sm_90 block, less the static
// warp-sum buffer of at most 16 KiB).
constexpr std::size_t kMaxDynamicSmem = 210 * 1024;

// Bytes of one ring stage: the codes of every tile, then up to two group lines of 32 bytes per
// tile for the scales (and as many for the mins).
constexpr int stage_bytes(int tiles, bool asym) {
  return tiles * 512 + tiles * (asym ? 2 : 1) * 64;
}

constexpr std::size_t x_bytes(int M, std::int64_t cols_padded) {
  return static_cast<std::size_t>(M) * static_cast<std::size_t>(cols_padded + kXPadHalves) * 2;
}

// The chunk index and block-local tile of a warp's j-th item (per_tile items a tile).
struct Item {
  int tile, chunk;
  __device__ Item(int j, int per_tile, int warp)
      : tile(j / per_tile), chunk(warp + (j - (j / per_tile) * per_tile) * kWarps) {}
};

template <class T, int Bits, bool Swiglu, bool Asym, int D>
__global__ void __launch_bounds__(kWarps * 32, 1)
    gemv_mma_wide_staged_kernel(GemvParams p, int tiles_per_block) {
  static_assert((D & (D - 1)) == 0, "ring depth must be a power of two");
  constexpr int kTiles = Swiglu ? 2 : 1;
  constexpr int kSlots = kTiles * kNt;
  constexpr int kSub = Bits == 4 ? 2 : 1;
  constexpr int kChunkCols = 256 / Bits;
  constexpr int kStage = stage_bytes(kTiles, Asym);
  extern __shared__ __align__(16) std::uint8_t smem[];
  __shared__ float red[kWarps][kSlots][4][32];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int chunks = static_cast<int>(p.tw.chunks());
  const int cols = chunks * kChunkCols;  // cols_padded
  const int row_halves = cols + kXPadHalves;
  const int groups = static_cast<int>(p.tw.groups_padded());
  const int gshift = p.group_shift;
  const int K = static_cast<int>(p.K);
  const std::int64_t first_tile = std::int64_t{blockIdx.x} * tiles_per_block;
  const int block_tiles =
      static_cast<int>(std::min<std::int64_t>(tiles_per_block, p.tw.tiles() - first_tile));
  const int per_tile = chunks > warp ? (chunks - warp + kWarps - 1) / kWarps : 0;
  const int items = per_tile * block_tiles;

  const std::uint32_t x_s = smem_addr(smem);
  const std::uint32_t ring_s = x_s + static_cast<std::uint32_t>(x_bytes(p.M, cols)) +
                               static_cast<std::uint32_t>(warp * D * kStage);
  // Lines of 32 bytes a chunk's columns touch in each scale array (1, or 2 for 64 columns in
  // groups of 32); their 16-byte halves are copied by lanes 0..15: lane = kind 8 + tile 4 + unit.
  const int lines = std::max(1, kChunkCols >> gshift);
  const int s_unit = lane & 3, s_tile = (lane >> 2) & 1, s_kind = lane >> 3;
  const bool s_copies =
      s_unit < 2 * lines && s_tile < kTiles && (s_kind == 0 || (Asym && s_kind == 1));
  const std::uint32_t* s_src = nullptr;
  if (s_copies) {
    const QuantTiledView& w = s_tile == 1 ? p.tw_up : p.tw;
    s_src = (s_kind == 1 ? w.mins : w.scales) + s_unit * 4;
  }
  const std::uint32_t s_dst =
      static_cast<std::uint32_t>(kTiles * 512 + (s_kind * kTiles + s_tile) * 64 + s_unit * 16);
  const std::uint8_t* code_src[kTiles];
#pragma unroll
  for (int i = 0; i < kTiles; ++i) code_src[i] = (i == 1 ? p.tw_up : p.tw).codes + lane * 16;

  const auto issue = [&](int j) {
    const Item it(j, per_tile, warp);
    const std::int64_t tile = first_tile + it.tile;
    const std::uint32_t s = ring_s + static_cast<std::uint32_t>((j & (D - 1)) * kStage);
    const std::int64_t code_off = (tile * chunks + it.chunk) * 512;
#pragma unroll
    for (int i = 0; i < kTiles; ++i)
      cp_async16_at(s + i * 512 + lane * 16, code_src[i] + code_off, true);
    if (s_copies) {
      const std::int64_t gf = (std::int64_t{it.chunk} * kChunkCols) >> gshift;
      cp_async16_at(s + s_dst, s_src + (tile * groups + gf) * 8, true);
    }
  };

  for (int j = 0; j < D - 1; ++j) {
    if (j < items) issue(j);
    cp_async_commit();
  }
  decode::pdl_wait();  // x (and the residual read at the end) may come from the previous kernel
  {
    const T* x = static_cast<const T*>(p.x);
    const int row16 = cols / 8, x16 = p.M * row16;
    for (int i = threadIdx.x; i < x16; i += kWarps * 32) {
      const int m = i / row16, c = (i - m * row16) * 8;
      const bool in_k = c < K;  // the padded tail is zero
      cp_async16_at(x_s + static_cast<std::uint32_t>((m * row_halves + c) * 2),
                    x + (in_k ? std::int64_t{m} * K + c : 0), in_k);
    }
  }
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  // Lane (g, t) supplies token 8 n + g of n-tile n; tokens past M read token 0 (their mma
  // columns are never stored).
  std::uint32_t x_lane_s[kNt];
#pragma unroll
  for (int n = 0; n < kNt; ++n) {
    const int token = 8 * n + g < p.M ? 8 * n + g : 0;
    x_lane_s[n] = x_s + static_cast<std::uint32_t>((token * row_halves + 8 * t) * 2);
  }
  const CodeDecoder<T, Bits> dec(p.zero_point);
  float acc[kSlots][4] = {};
  int j = 0;
  for (int bt = 0; bt < block_tiles; ++bt) {
    for (int e = 0; e < per_tile; ++e, ++j) {
      // Groups committed after the prologue: j; item j's group is complete at D - 2 pending.
      cp_async_wait<D - 2>();
      __syncwarp();  // every lane's item j has landed; every lane is done with item j - 1
      if (j + D - 1 < items) issue(j + D - 1);
      cp_async_commit();
      const std::uint32_t s = ring_s + static_cast<std::uint32_t>((j & (D - 1)) * kStage);
      uint4 q[kTiles];
#pragma unroll
      for (int i = 0; i < kTiles; ++i) q[i] = lds128_at(s + i * 512 + lane * 16);
      const int col0 = (warp + e * kWarps) * kChunkCols;
      const int gf = col0 >> gshift;
      const auto sub = [&](auto sub_const) {
        constexpr int S = decltype(sub_const)::value;
        const int col = col0 + 32 * S;
        uint4 xv[kNt];
#pragma unroll
        for (int n = 0; n < kNt; ++n) xv[n] = lds128_at(x_lane_s[n] + col * 2);
        const std::uint32_t line =
            s + kTiles * 512 + static_cast<std::uint32_t>(((col >> gshift) - gf) * 32 + g * 4);
        float2 sc[kTiles], mn[kTiles];
#pragma unroll
        for (int i = 0; i < kTiles; ++i) {
          sc[i] = f16x2_bits_to_float2(lds32_at(line + i * 64));
          mn[i] = Asym ? f16x2_bits_to_float2(lds32_at(line + (kTiles + i) * 64)) : float2{};
        }
        mma_wide_sub_chunk<T, Bits, S, kTiles, kNt>(dec, q, xv, sc, mn, Asym, acc);
      };
      sub(std::integral_constant<int, 0>{});
      if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
    }
    if (bt + 1 == block_tiles) decode::pdl_launch_dependents();

    // The tile's warp sums (fixed order: deterministic); warps 0 .. kNt - 1 store n-tile `warp`.
    // The first barrier keeps the previous tile's readers of `red` ahead of these writes.
    if (bt > 0) __syncthreads();
    stage_warp_partials<kWarps, kSlots>(red, acc, warp, lane);
#pragma unroll
    for (int o = 0; o < kSlots; ++o)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[o][r] = 0.0f;
    if (warp < kNt) {
      const int n = warp;
      const std::int64_t tile = first_tile + bt;
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        // Accumulator r: row g + 8 (r / 2) of the tile, token 8 n + 2 t + r % 2.
        const int token = 8 * n + 2 * t + (r & 1);
        const std::int64_t row = tile * kQuantTileRows + g + 8 * (r >> 1);
        if (token >= p.M || row >= p.N) continue;
        const float a = staged_warp_sum<kWarps, kSlots>(red, n, r, lane);
        const float v =
            Swiglu ? silu(a) * staged_warp_sum<kWarps, kSlots>(red, kNt + n, r, lane) : a;
        store_out<T>(p, token * p.N + row, v);
      }
    }
  }
  if (block_tiles <= 0) decode::pdl_launch_dependents();
  cp_async_wait<0>();
}

// Host side (mma_wide_staged.cu): the launch shape, or smem == 0 where the case does not fit.
struct Shape {
  int depth = 8;
  int tiles_per_block = 1;
  int blocks = 0;
  std::size_t smem = 0;
};
Shape shape_of(const GemvParams& p);
// Fills tiles_per_block and blocks for `tiles` row tiles (needs the device's SM count).
void set_grid(Shape& s, std::int64_t tiles);

template <class T, int Bits, bool Swiglu, bool Asym, int D>
void launch_kernel(const GemvParams& p, const Shape& s, cudaStream_t stream, bool pdl) {
  constexpr auto* kernel = &gemv_mma_wide_staged_kernel<T, Bits, Swiglu, Asym, D>;
  static const bool raised = [] {  // once: the most any call may ask for
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(kMaxDynamicSmem)),
          "cudaFuncSetAttribute(gemv_mma_wide_staged_kernel)");
    return true;
  }();
  (void)raised;
  decode::launch_maybe_pdl(kernel, dim3(static_cast<unsigned>(s.blocks)), dim3(kWarps * 32), s.smem,
                           stream, pdl, "gemv_mma_wide_staged_kernel", p, s.tiles_per_block);
}

template <class T>
void launch_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  Shape s = shape_of(p);
  set_grid(s, p.tw.tiles());
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    const auto by_asym = [&](auto sw, auto d) {
      constexpr bool Sw = decltype(sw)::value;
      constexpr int D = decltype(d)::value;
      p.tw.asymmetric ? launch_kernel<T, B, Sw, true, D>(p, s, stream, pdl)
                      : launch_kernel<T, B, Sw, false, D>(p, s, stream, pdl);
    };
    using D4 = std::integral_constant<int, 4>;
    using D8 = std::integral_constant<int, 8>;
    if (p.epilogue != Epilogue::swiglu) return by_asym(std::false_type{}, D8{});
    s.depth == 4 ? by_asym(std::true_type{}, D4{}) : by_asym(std::true_type{}, D8{});
  });
}

extern template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);

}  // namespace klab::cuda::gemv_impl::wide_staged
