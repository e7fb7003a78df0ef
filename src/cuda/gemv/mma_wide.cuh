// The tensor-core GEMV for wide decode batches (variant mma_wide): `mma`'s tiled-layout math
// (mma_gemv.cuh) with the tokens as NT n-tiles of 8, so each decoded weight fragment feeds NT
// mma instructions and W is streamed once for up to 32 tokens.
//
// Why: batch-16 decode used to run every matrix as two GEMV passes of 8 tokens, streaming the
// weights twice and decoding every code twice (the quantized prefill GEMM, tiled for 128 rows,
// was slower still at 16). 8 warps split K; only x (one 16-byte load per n-tile and sub-chunk)
// and the f32 accumulators grow with NT.
//
// QKV epilogue (GemvParams::qkv, the fused decode `staged` QKV block of a wide batch): instead of
// the qkv rows, each n-tile's sums go out as rotated q and k / v cache rows (qkv_epilogue.cuh),
// as mma_staged does for up to 8 tokens; kernels of their own (gemv_mma_wide_qkv_kernel).
//
// Row tiles per block (R): every block reads all of x, so x costs (blocks x M x K x 2) bytes of
// L2 traffic against N x K x Bits / 8 of codes; with one 16-row tile per block and 16 tokens
// that is 4x the 4-bit codes. A block of R tiles shares each x fragment across R tiles: 1/R of
// that traffic, at the price of registers (wide_row_tiles: where R > 1 measured faster).
#pragma once

#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/env_switch.hpp"
#include "cuda/gemv/mma_gemv.cuh"
#include "cuda/gemv/qkv_epilogue.cuh"
#include "cuda/gemv/wide_row_tiles.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

// acc[i * NT + n] += scale * (codes of sub-chunk S of tile i) · x[n-tile n] (+ min * sum(x)).
template <class T, int Bits, int S, int Tiles, int NT>
__device__ __forceinline__ void mma_wide_sub_chunk(const CodeDecoder<T, Bits>& dec,
                                                   const uint4 (&q)[Tiles], const uint4 (&xv)[NT],
                                                   const float2 (&sc)[Tiles],
                                                   const float2 (&mn)[Tiles], bool asymmetric,
                                                   float (&acc)[Tiles * NT][4]) {
#pragma unroll
  for (int i = 0; i < Tiles; ++i) {
    std::uint32_t a0[4], a1[4];
    code_fragment<T, Bits, S, 0>(dec, q[i], a0);
    code_fragment<T, Bits, S, 1>(dec, q[i], a1);
#pragma unroll
    for (int n = 0; n < NT; ++n) {
      const std::uint32_t b0[2] = {xv[n].x, xv[n].y}, b1[2] = {xv[n].z, xv[n].w};
      float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      mma_m16n8k16<T>(d, a0, b0);
      mma_m16n8k16<T>(d, a1, b1);
      float(&o)[4] = acc[i * NT + n];
      o[0] = fmaf(d[0], sc[i].x, o[0]);
      o[1] = fmaf(d[1], sc[i].x, o[1]);
      o[2] = fmaf(d[2], sc[i].y, o[2]);
      o[3] = fmaf(d[3], sc[i].y, o[3]);
    }
  }
  if (!asymmetric) return;
  constexpr std::uint32_t one = ones_pair_bits<T>();
  const std::uint32_t ones[4] = {one, one, one, one};
#pragma unroll
  for (int n = 0; n < NT; ++n) {
    const std::uint32_t b0[2] = {xv[n].x, xv[n].y}, b1[2] = {xv[n].z, xv[n].w};
    float xsum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    mma_m16n8k16<T>(xsum, ones, b0);
    mma_m16n8k16<T>(xsum, ones, b1);
#pragma unroll
    for (int i = 0; i < Tiles; ++i) {
      float(&o)[4] = acc[i * NT + n];
      o[0] = fmaf(xsum[0], mn[i].x, o[0]);
      o[1] = fmaf(xsum[1], mn[i].x, o[1]);
      o[2] = fmaf(xsum[2], mn[i].y, o[2]);
      o[3] = fmaf(xsum[3], mn[i].y, o[3]);
    }
  }
}

// One sub-chunk S of the tiles' codes q: x of the NT n-tiles at `col` elements from xs[n] (zeros
// unless x_in), the scale / min lines at `line` words from scales[i] / mins[i].
template <class T, int Bits, int S, int Tiles, int NT>
__device__ __forceinline__ void wide_sub_chunk_at(const CodeDecoder<T, Bits>& dec,
                                                  const uint4 (&q)[Tiles], const T* const (&xs)[NT],
                                                  const std::uint32_t* const (&scales)[Tiles],
                                                  const std::uint32_t* const (&mins)[Tiles],
                                                  int col, int line, bool x_in, bool asymmetric,
                                                  float (&acc)[Tiles * NT][4]) {
  uint4 xv[NT];
#pragma unroll
  for (int n = 0; n < NT; ++n)
    xv[n] = x_in ? *reinterpret_cast<const uint4*>(xs[n] + col) : uint4{};
  float2 sc[Tiles], mn[Tiles];
#pragma unroll
  for (int i = 0; i < Tiles; ++i) {
    sc[i] = f16x2_bits_to_float2(__ldg(scales[i] + line));
    mn[i] = asymmetric ? f16x2_bits_to_float2(__ldg(mins[i] + line)) : float2{};
  }
  mma_wide_sub_chunk<T, Bits, S, Tiles, NT>(dec, q, xv, sc, mn, asymmetric, acc);
}

// One interior iteration (groups of 32): kUnroll chunks, chunk u kMmaWarps * u chunks on from
// the pointers, all inside K.
template <class T, int Bits, int kUnroll, int Tiles, int NT>
__device__ __forceinline__ void wide_interior_iteration(
    const CodeDecoder<T, Bits>& dec, const uint4 (&q)[kUnroll][Tiles], const T* const (&xs)[NT],
    const std::uint32_t* const (&scales)[Tiles], const std::uint32_t* const (&mins)[Tiles],
    bool asymmetric, float (&acc)[Tiles * NT][4]) {
  constexpr int kChunkCols = 256 / Bits;
  constexpr int kGroupsPerChunk = kChunkCols / 32;
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int line = u * kMmaWarps * kGroupsPerChunk * 8;
    const int col = u * kMmaWarps * kChunkCols;
    wide_sub_chunk_at<T, Bits, 0>(dec, q[u], xs, scales, mins, col, line, true, asymmetric, acc);
    if constexpr (Bits == 4)
      wide_sub_chunk_at<T, Bits, 1>(dec, q[u], xs, scales, mins, col + 32, line + 8, true,
                                    asymmetric, acc);
  }
}

// A block's R row tiles: codes, scales and mins of tile `first + i` (i < R), and for SwiGLU the
// up matrix's same tiles at R + i. Tiles past the matrix address tile 0 (mma_wide_body reads it
// and never stores the result).
template <int Bits, bool Swiglu, int R>
struct WideRows {
  static constexpr int kTiles = (Swiglu ? 2 : 1) * R;
  const std::uint8_t* codes[kTiles];
  const std::uint32_t* scales[kTiles];
  const std::uint32_t* mins[kTiles];
  bool live[kTiles];

  __device__ WideRows(const GemvParams& p, std::int64_t first, int lane, int g) {
    const std::int64_t chunks = p.tw.chunks(), groups = p.tw.groups_padded();
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
      const QuantTiledView& w = (Swiglu && i >= R) ? p.tw_up : p.tw;
      const std::int64_t tile = first + i % R;
      live[i] = tile < p.tw.tiles();
      const std::int64_t at = live[i] ? tile : 0;
      codes[i] = w.codes + (at * chunks * 32 + lane) * 16;
      scales[i] = w.scales + at * groups * 8 + g;
      mins[i] = w.mins ? w.mins + at * groups * 8 + g : nullptr;
    }
  }
};

// Qkv: the QKV epilogue (p.qkv) instead of y; kernels of their own, so the plain ones keep their
// register allocation (with a run-time branch in every kernel, the 4-bit 16-token one went from
// 80 to 94 registers: 2 blocks an SM instead of 3). MaxUnroll: at most this many chunks an
// iteration (the three-blocks-an-SM SwiGLU kernel's register budget).
template <class T, int Bits, bool Swiglu, int NT, int R, bool Qkv = false,
          int MaxUnroll = kMmaUnroll>
__device__ __forceinline__ void mma_wide_body(const GemvParams& p) {
  static_assert(!Qkv || !Swiglu);
  using Rows = WideRows<Bits, Swiglu, R>;
  constexpr int kTiles = Rows::kTiles;
  constexpr int kChunkCols = 256 / Bits;
  constexpr int kSub = Bits == 4 ? 2 : 1;  // 32-column sub-chunks per chunk
  // Registers: NT x 16-byte x per sub-chunk and R tiles of codes per unrolled chunk.
  constexpr int kUnroll = std::min((NT > 2 || kTiles > 2) ? 2 : kMmaUnroll, MaxUnroll);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t chunks = p.tw.chunks();
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * R;
  const bool asymmetric = p.tw.asymmetric;
  const CodeDecoder<T, Bits> dec(p.zero_point);
  // Lane (g, t) supplies token 8 n + g of n-tile n (rows past M read row 0, never stored).
  const T* xrow[NT];
#pragma unroll
  for (int n = 0; n < NT; ++n)
    xrow[n] = static_cast<const T*>(p.x) + (8 * n + g < p.M ? 8 * n + g : 0) * p.K + 8 * t;

  float acc[kTiles * NT][4] = {};
  // PDL: the first chunks' codes (weights) are requested before griddepcontrol.wait, x, the
  // scales' neighbours, y and the residual only after it (a no-op without the attribute).
  // Qkv: the epilogue's inputs are staged right after the wait.
  __shared__ QkvStagedInputs<R * kQuantTileRows, 8 * NT> qkv_in;
  bool waited = false;
  const auto wait_once = [&] {
    decode::pdl_wait();
    if constexpr (Qkv) {
      qkv_in.stage(p.qkv, p.M, first * kQuantTileRows);
      cp_async_commit();
    }
    waited = true;
  };
  // Chunks a warp moves on an iteration; chunks whose columns all lie inside K.
  constexpr int kStep = kMmaWarps * kUnroll;
  const std::int64_t whole = p.K / kChunkCols;
  std::int64_t base = warp;

  // Every pointer below is at chunk `base` of its row (scales and mins: at the group of that
  // chunk's first column) and moves on kStep chunks an iteration; loads add offsets.
  constexpr int kColStep = kStep * kChunkCols;
  const int gshift = p.group_shift;
  const std::uint8_t* codes[kTiles];
  const std::uint32_t* scales[kTiles];
  const std::uint32_t* mins[kTiles];
  {
    const Rows rows(p, first, lane, g);
    const std::int64_t line0 = ((base * kChunkCols) >> gshift) * 8;
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
      codes[i] = rows.codes[i] + base * 512;
      scales[i] = rows.scales[i] + line0;
      mins[i] = asymmetric ? rows.mins[i] + line0 : nullptr;
    }
  }
  const T* xs[NT];
#pragma unroll
  for (int n = 0; n < NT; ++n) xs[n] = xrow[n] + base * kChunkCols;
  const auto advance = [&] {
    base += kStep;
    // kColStep (>= 512) is a whole number of groups (32, 64 or 128: QuantFormat's validation).
    const int lines = (kColStep >> gshift) * 8;
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
      codes[i] += kStep * 512;
      scales[i] += lines;
      if (asymmetric) mins[i] += lines;
    }
#pragma unroll
    for (int n = 0; n < NT; ++n) xs[n] += kColStep;
  };
  // The interior, for groups of 32 (every GGUF format): kUnroll chunks an iteration, all inside
  // K, so no load is predicated and every offset is an immediate. Why: with each address from
  // the chunk index and every load predicated, the 64-bit address arithmetic, predicates and
  // zero fills outnumbered the math (SASS, 4-bit R = 1: ~145 instructions a 16 x 64
  // chunk-tile, ~70 of them not math).
  if (gshift == 5 && !p.wide_indexed_loop) {
    while (base + kMmaWarps * (kUnroll - 1) < whole) {
      uint4 q[kUnroll][kTiles];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u)
#pragma unroll
        for (int i = 0; i < kTiles; ++i) q[u][i] = load_stream16(codes[i] + u * kMmaWarps * 512);
      if (!waited) wait_once();
      wide_interior_iteration<T, Bits, kUnroll>(dec, q, xs, scales, mins, asymmetric, acc);
      advance();
    }
  }

  // The rest (or everything, for other group sizes): chunks past the last whole iteration, a K
  // that is not a multiple of the chunk (x past K reads zeros). Rows past the matrix and tokens
  // past M read tile 0 and token 0, and are never stored.
  while (base < chunks) {
    uint4 q[kUnroll][kTiles];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int i = 0; i < kTiles; ++i)
        q[u][i] =
            base + kMmaWarps * u < chunks ? load_stream16(codes[i] + u * kMmaWarps * 512) : uint4{};
    if (!waited) wait_once();
    const std::int64_t col0 = base * kChunkCols;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (base + kMmaWarps * u >= chunks) break;
#pragma unroll
      for (int S = 0; S < kSub; ++S) {
        const int col = u * kMmaWarps * kChunkCols + 32 * S;
        const int line = static_cast<int>(((col0 + col) >> gshift) - (col0 >> gshift)) * 8;
        if (S == 0)
          wide_sub_chunk_at<T, Bits, 0>(dec, q[u], xs, scales, mins, col, line, col0 + col < p.K,
                                        asymmetric, acc);
        else
          wide_sub_chunk_at<T, Bits, kSub - 1>(dec, q[u], xs, scales, mins, col, line,
                                               col0 + col < p.K, asymmetric, acc);
      }
    }
    advance();
  }

  if (!waited) wait_once();
  decode::pdl_launch_dependents();
  if constexpr (Qkv) cp_async_wait<0>();  // the staged inputs (the barrier below shares them)

  // Fixed-order warp sums (deterministic); warp w then finishes output slots w, w + 8, ...
  // (slot o = tile o / NT of the block, n-tile o % NT), so the stores are spread over warps.
  __shared__ float red[kMmaWarps][kTiles * NT][4][32];
  stage_warp_partials<kMmaWarps, kTiles * NT>(red, acc, warp, lane);
  const auto warp_sum = [&](int slot, int r) {
    return staged_warp_sum<kMmaWarps, kTiles * NT>(red, slot, r, lane);
  };
  for (int o = warp; o < R * NT; o += kMmaWarps) {
    const int i = o / NT, n = o % NT;
    if (first + i >= p.tw.tiles()) continue;
    if constexpr (Qkv) {  // the whole warp stores (the epilogue shuffles row pairs)
      float sums[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) sums[r] = warp_sum(o, r);
      store_qkv_rope_tile_staged<T>(p.qkv, qkv_in, p.M, sums, first + i, i, g, t, 8 * n);
    } else {
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        // Accumulator r: row g + 8 (r / 2) of the tile, token 8 n + 2 t + r % 2.
        const int token = 8 * n + 2 * t + (r & 1);
        const std::int64_t row = (first + i) * kQuantTileRows + g + 8 * (r >> 1);
        if (token >= p.M || row >= p.N) continue;
        const float a = warp_sum(o, r);
        const float v = Swiglu ? silu(a) * warp_sum((R + i) * NT + n, r) : a;
        store_out<T>(p, token * p.N + row, v);
      }
    }
  }
}

template <class T, int Bits, bool Swiglu, int NT>
__global__ void __launch_bounds__(kMmaWarps * 32) gemv_mma_wide_kernel(GemvParams p) {
  mma_wide_body<T, Bits, Swiglu, NT, 1>(p);
}

// 8-bit SwiGLU of 9..16 tokens with three blocks an SM instead of two (80 registers instead of
// 128, two chunks an iteration instead of four): 688 blocks at Llama-2-7B's shape are 1.7 waves
// instead of 2.6. H100, session 19 c1, M = 16, 11008 x 4096: 42.66 -> 40.86 µs; at 4 bits the
// same bound spills ~200 bytes and was slower (29.82 -> 34.99), so it is not compiled there.
// KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2 takes the two-block kernel (a study switch).
template <class T, int NT>
__global__ void __launch_bounds__(kMmaWarps * 32, 3) gemv_mma_wide_swiglu3_kernel(GemvParams p) {
  mma_wide_body<T, 8, true, NT, 1, false, 2>(p);
}

// Blocks an SM the QKV epilogue's kernels are register-bounded for: two at R > 1 (as the plain
// rows kernels), three for one tile and 16 tokens (the plain kernel's 80 registers allow three).
constexpr int wide_qkv_min_blocks(int nt, int r) {
  return r > 1 ? 2 : nt == 2 ? 3 : 1;
}

// The QKV epilogue's kernels (f16 only: the fused QKV block's q and cache are f16).
template <int Bits, int NT, int R>
__global__ void __launch_bounds__(kMmaWarps * 32, wide_qkv_min_blocks(NT, R))
    gemv_mma_wide_qkv_kernel(GemvParams p) {
  mma_wide_body<__half, Bits, false, NT, R, true>(p);
}

// R > 1: MinBlocks blocks per SM, two (<= 128 registers) where the row-tile rule counts on two.
// Without the bound ptxas gave the 4-bit R = 3 kernel 136 registers once PDL was added (one block
// per SM: 27.8 instead of 17.7 µs at 12288 x 4096, 16 tokens). A kernel of its own, because a
// minimum block count on the R = 1 kernels changes their allocation too (SwiGLU 4-bit: 128 ->
// 136).
template <class T, int Bits, bool Swiglu, int NT, int R, int MinBlocks>
__global__ void __launch_bounds__(kMmaWarps * 32, MinBlocks)
    gemv_mma_wide_rows_kernel(GemvParams p) {
  mma_wide_body<T, Bits, Swiglu, NT, R>(p);
}

// Blocks an SM the R = 2 kernels are bounded for. R = 2 runs where the rule makes at most one
// block an SM; bounded for one, ptxas issues an iteration's code, x and scale loads together
// (4 bits: 194 registers, 8 bits: 144) instead of the codes in two halves, each waited for.
// H100, session 19 c1, M = 16, two -> one: 8 bits 4096 x 4096 10.62 -> 9.38 µs, 4096 x 11008
// 28.03 -> 24.70; 4 bits 8.10 -> 8.25 and 18.45 -> 17.51 (the 4-bit down projection then moved
// from mma_wide_split to mma_wide: registry.cpp). KLAB_CUDA_WIDE_R2_BLOCKS=2 keeps two (the bound
// before; a study switch, read at every launch).
inline int wide_r2_min_blocks() {
  return env_equals("KLAB_CUDA_WIDE_R2_BLOCKS", "2") ? 2 : 1;
}

// Compiled: R x (2 for SwiGLU) x NT <= 8 accumulator tiles (the warp-sum buffer's 32 KiB).
inline int wide_row_tiles_max(bool swiglu, int nt) {
  return nt == 1 ? 1 : nt == 2 ? (swiglu ? 2 : 4) : (swiglu ? 1 : 2);
}

// KLAB_CUDA_WIDE_ROWS = 1..4 replaces wide_row_tiles' choice, capped at what is compiled for the
// case (a study switch for the bench and the tests; read at every launch).
inline int wide_row_tiles_forced(int chosen, bool swiglu, int nt) {
  const int n = env_int("KLAB_CUDA_WIDE_ROWS");
  if (n < 1 || n > 4) return chosen;
  return std::min(n, wide_row_tiles_max(swiglu, nt));
}

// The QKV epilogue's row tiles a block: the row-tile rule's R where a kernel is compiled for it
// (NT = 2: R = 1 or 3; NT = 4: R = 1), else one tile a block.
inline int wide_qkv_row_tiles(int nt, int r) {
  return nt == 2 && r == 3 ? 3 : 1;
}

template <class T>
void launch_mma_wide_qkv(const GemvParams& p, cudaStream_t stream, bool pdl, int nt, int r) {
  if constexpr (!std::is_same_v<T, __half>) {
    fail("gemv mma_wide: the QKV epilogue takes f16 activations only");
  } else {
    if (p.epilogue != Epilogue::none || nt == 1)
      fail("gemv mma_wide: the QKV epilogue needs 9..32 tokens and no other epilogue");
    const std::int64_t tiles = p.tw.tiles();
    dispatch_bits(p.tw.bits, [&](auto bits) {
      constexpr int B = decltype(bits)::value;
      const auto go = [&](auto nt_c, auto r_c) {
        constexpr int NT = decltype(nt_c)::value, R = decltype(r_c)::value;
        decode::launch_maybe_pdl(
            gemv_mma_wide_qkv_kernel<B, NT, R>, dim3(static_cast<unsigned>((tiles + R - 1) / R)),
            dim3(kMmaWarps * 32), 0, stream, pdl, "gemv_mma_wide_qkv_kernel", p);
      };
      using I1 = std::integral_constant<int, 1>;
      if (nt == 4) return go(std::integral_constant<int, 4>{}, I1{});
      using I2 = std::integral_constant<int, 2>;
      return wide_qkv_row_tiles(nt, r) == 3 ? go(I2{}, std::integral_constant<int, 3>{})
                                            : go(I2{}, I1{});
    });
  }
}

inline int wide_n_tiles(int M) {
  return M <= 8 ? 1 : M <= 16 ? 2 : 4;
}

// Row tiles a block of the launch for p (the rule, or KLAB_CUDA_WIDE_ROWS).
inline int wide_row_tiles_of(const GemvParams& p) {
  const int sms = device_sm_count();
  const bool swiglu = p.epilogue == Epilogue::swiglu;
  const int nt = wide_n_tiles(p.M);
  // Read at every launch, as KLAB_CUDA_WIDE_ROWS (a study switch).
  const bool two_tiles = !env_equals("KLAB_CUDA_WIDE_TWO_TILES", "off");
  return wide_row_tiles_forced(wide_row_tiles(p.tw.tiles(), sms, swiglu, nt, two_tiles), swiglu,
                               nt);
}

// Explicitly instantiated per activation dtype in mma_wide_<dtype>.cu.
template <class T>
void launch_mma_wide_typed(const GemvParams& params, cudaStream_t stream, bool pdl) {
  GemvParams p = params;
  p.wide_indexed_loop = env_equals("KLAB_CUDA_WIDE_LOOP", "indexed");
  const std::int64_t tiles = p.tw.tiles();
  const bool swiglu = p.epilogue == Epilogue::swiglu;
  const int nt = wide_n_tiles(p.M);
  const int r = wide_row_tiles_of(p);
  if (p.qkv.on) return launch_mma_wide_qkv<T>(p, stream, pdl, nt, r);
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    const auto go = [&](auto sw, auto nt_c, auto r_c) {
      constexpr bool Sw = decltype(sw)::value;
      constexpr int NT = decltype(nt_c)::value, R = decltype(r_c)::value;
      const auto blocks = static_cast<unsigned>((tiles + R - 1) / R);
      if constexpr (Sw && NT == 2 && R == 1 && B == 8) {
        if (!env_equals("KLAB_CUDA_WIDE_SWIGLU_BLOCKS", "2"))
          return decode::launch_maybe_pdl(gemv_mma_wide_swiglu3_kernel<T, NT>, dim3(blocks),
                                          dim3(kMmaWarps * 32), 0, stream, pdl,
                                          "gemv_mma_wide_swiglu3_kernel", p);
      }
      const auto rows = [&](auto min_blocks) {
        decode::launch_maybe_pdl(
            gemv_mma_wide_rows_kernel<T, B, Sw, NT, R, decltype(min_blocks)::value>, dim3(blocks),
            dim3(kMmaWarps * 32), 0, stream, pdl, "gemv_mma_wide_rows_kernel", p);
      };
      if constexpr (R == 1)
        decode::launch_maybe_pdl(gemv_mma_wide_kernel<T, B, Sw, NT>, dim3(blocks),
                                 dim3(kMmaWarps * 32), 0, stream, pdl, "gemv_mma_wide_kernel", p);
      else if constexpr (R == 2)
        wide_r2_min_blocks() == 1 ? rows(std::integral_constant<int, 1>{})
                                  : rows(std::integral_constant<int, 2>{});
      else
        rows(std::integral_constant<int, 2>{});
    };
    using I1 = std::integral_constant<int, 1>;
    using I2 = std::integral_constant<int, 2>;
    using I3 = std::integral_constant<int, 3>;
    using I4 = std::integral_constant<int, 4>;
    const auto by_rows = [&](auto sw) {
      constexpr bool Sw = decltype(sw)::value;
      if (nt == 1) return go(sw, I1{}, I1{});
      if constexpr (Sw) {
        if (nt == 4) return go(sw, I4{}, I1{});
        return r == 2 ? go(sw, I2{}, I2{}) : go(sw, I2{}, I1{});
      } else {
        if (nt == 4) return r == 2 ? go(sw, I4{}, I2{}) : go(sw, I4{}, I1{});
        switch (r) {
          case 4:
            return go(sw, I2{}, I4{});
          case 3:
            return go(sw, I2{}, I3{});
          case 2:
            return go(sw, I2{}, I2{});
          default:
            return go(sw, I2{}, I1{});
        }
      }
    };
    if (swiglu)
      by_rows(std::true_type{});
    else
      by_rows(std::false_type{});
  });
}

}  // namespace klab::cuda::gemv_impl
