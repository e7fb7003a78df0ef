// The tensor-core GEMV kernel (variants mma and mma_x2) on the tiled layout.
//
// A = W tile (16 rows), B = x^T (up to 8 tokens: M is padded to the mma's n = 8), f32 D.
// Each lane's 16-byte code load is exactly its A fragments for 64 (4-bit) or 32 (8-bit)
// columns, so W needs no shared memory and no shuffles. Lane (g, t) owns columns 8t..8t+7 of
// each 32-column sub-chunk; k-step j of a sub-chunk maps the mma's k (2t, 2t+1 | 2t+8, 2t+9)
// to columns 8t + 4j + (0, 1 | 2, 3), so x[token g][8t .. 8t+7] is one 16-byte load giving
// both k-steps' B fragments. A holds the exact integers q - z; each 32-column sub-chunk lies in
// one group, so its two mma results are scaled in f32 (and, asymmetric, the group's
// min * sum(x) is added, with sum(x) from one more mma against an all-ones A).
// 8 warps split K; partial tiles are summed through shared memory.
#pragma once

#include "cuda/common/mma.cuh"
#include "cuda/gemv/gemv_common.cuh"

namespace klab::cuda::gemv_impl {

enum class MmaMode { single, pair, swiglu };

constexpr int kMmaWarps = 8;
constexpr int kMmaUnroll = 4;

template <class T>
constexpr std::uint32_t ones_pair_bits() {
  return std::is_same_v<T, __half> ? 0x3C003C00u : 0x3F803F80u;
}

// A fragment of k-step J of sub-chunk S from one chunk's 4 code words.
template <class T, int Bits, int S, int J>
__device__ __forceinline__ void code_fragment(const CodeDecoder<T, Bits>& dec, const uint4& q,
                                              std::uint32_t (&a)[4]) {
  if constexpr (Bits == 4) {
    const std::uint32_t wg = word_of<2 * S>(q), wg8 = word_of<2 * S + 1>(q);
    a[0] = as_bits(dec.template pair<2 * J>(wg));
    a[1] = as_bits(dec.template pair<2 * J>(wg8));
    a[2] = as_bits(dec.template pair<2 * J + 1>(wg));
    a[3] = as_bits(dec.template pair<2 * J + 1>(wg8));
  } else {
    const std::uint32_t wg = word_of<2 * J>(q), wg8 = word_of<2 * J + 1>(q);
    a[0] = as_bits(dec.template pair<0>(wg));
    a[1] = as_bits(dec.template pair<0>(wg8));
    a[2] = as_bits(dec.template pair<1>(wg));
    a[3] = as_bits(dec.template pair<1>(wg8));
  }
}

// acc[i] += scale * (codes of sub-chunk S of tile i) · x  (+ min * sum(x)).
template <class T, int Bits, int S, int Tiles>
__device__ __forceinline__ void mma_sub_chunk(const CodeDecoder<T, Bits>& dec,
                                              const uint4 (&q)[Tiles], const uint4& xv,
                                              const float2 (&sc)[Tiles], const float2 (&mn)[Tiles],
                                              bool asymmetric, float (&acc)[Tiles][4]) {
  const std::uint32_t b0[2] = {xv.x, xv.y}, b1[2] = {xv.z, xv.w};
#pragma unroll
  for (int i = 0; i < Tiles; ++i) {
    float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    std::uint32_t a[4];
    code_fragment<T, Bits, S, 0>(dec, q[i], a);
    mma_m16n8k16<T>(d, a, b0);
    code_fragment<T, Bits, S, 1>(dec, q[i], a);
    mma_m16n8k16<T>(d, a, b1);
    acc[i][0] = fmaf(d[0], sc[i].x, acc[i][0]);
    acc[i][1] = fmaf(d[1], sc[i].x, acc[i][1]);
    acc[i][2] = fmaf(d[2], sc[i].y, acc[i][2]);
    acc[i][3] = fmaf(d[3], sc[i].y, acc[i][3]);
  }
  if (asymmetric) {
    constexpr std::uint32_t one = ones_pair_bits<T>();
    const std::uint32_t ones[4] = {one, one, one, one};
    float xsum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    mma_m16n8k16<T>(xsum, ones, b0);
    mma_m16n8k16<T>(xsum, ones, b1);
#pragma unroll
    for (int i = 0; i < Tiles; ++i) {
      acc[i][0] = fmaf(xsum[0], mn[i].x, acc[i][0]);
      acc[i][1] = fmaf(xsum[1], mn[i].x, acc[i][1]);
      acc[i][2] = fmaf(xsum[2], mn[i].y, acc[i][2]);
      acc[i][3] = fmaf(xsum[3], mn[i].y, acc[i][3]);
    }
  }
}

__device__ __forceinline__ float2 f16x2_bits_to_float2(std::uint32_t bits) {
  return __half22float2(bits_as<__half2>(bits));
}

// Every warp's partial tiles into red[warp], visible to the whole block on return.
template <int W, int Tiles>
__device__ __forceinline__ void stage_warp_partials(float (&red)[W][Tiles][4][32],
                                                    const float (&acc)[Tiles][4], int warp,
                                                    int lane) {
#pragma unroll
  for (int i = 0; i < Tiles; ++i)
#pragma unroll
    for (int r = 0; r < 4; ++r) red[warp][i][r][lane] = acc[i][r];
  __syncthreads();
}

// Lane's accumulator r of tile i summed over the staged warps in a fixed order (deterministic).
template <int W, int Tiles>
__device__ __forceinline__ float staged_warp_sum(const float (&red)[W][Tiles][4][32], int i, int r,
                                                 int lane) {
  float v = 0.0f;
#pragma unroll
  for (int w = 0; w < W; ++w) v += red[w][i][r][lane];
  return v;
}

// Sums the W warps' partial tiles through shared memory into warp 0's acc. Returns false in
// every other warp, which then has nothing left to do.
template <int W, int Tiles>
__device__ __forceinline__ bool sum_warp_partials(float (&red)[W][Tiles][4][32],
                                                  float (&acc)[Tiles][4], int warp, int lane) {
  stage_warp_partials<W, Tiles>(red, acc, warp, lane);
  if (warp != 0) return false;
#pragma unroll
  for (int i = 0; i < Tiles; ++i)
#pragma unroll
    for (int r = 0; r < 4; ++r) acc[i][r] = staged_warp_sum<W, Tiles>(red, i, r, lane);
  return true;
}

// Stores one 16-row tile from lane (g, t)'s accumulators: acc[i][r] is row g + 8 * (r / 2) of
// the tile, token 2t + r % 2; SwiGLU combines tile 0 (gate) and tile 1 (up).
template <class T, bool Swiglu, int Tiles>
__device__ __forceinline__ void store_tile(const GemvParams& p, const float (&acc)[Tiles][4],
                                           std::int64_t tile, int g, int t) {
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int token = 2 * t + (r & 1);
    const std::int64_t row = tile * kQuantTileRows + g + 8 * (r >> 1);
    if (token >= p.M || row >= p.N) continue;
    const float v = Swiglu ? silu(acc[0][r]) * acc[Tiles - 1][r] : acc[0][r];
    store_out<T>(p, token * p.N + row, v);
  }
}

template <class T, int Bits, MmaMode Mode>
__global__ void __launch_bounds__(kMmaWarps * 32) gemv_mma_kernel(GemvParams p) {
  constexpr int kTiles = Mode == MmaMode::single ? 1 : 2;
  constexpr int kChunkCols = 256 / Bits;
  constexpr int kSub = Bits == 4 ? 2 : 1;  // 32-column sub-chunks per chunk
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t chunks = p.tw.chunks(), groups = p.tw.groups_padded();

  std::int64_t tile[kTiles];
  bool live[kTiles];
  const std::uint8_t* codes[kTiles];
  const std::uint32_t* scales[kTiles];
  const std::uint32_t* mins[kTiles];
#pragma unroll
  for (int i = 0; i < kTiles; ++i) {
    const QuantTiledView& w = (Mode == MmaMode::swiglu && i == 1) ? p.tw_up : p.tw;
    tile[i] = Mode == MmaMode::pair ? 2 * static_cast<std::int64_t>(blockIdx.x) + i : blockIdx.x;
    live[i] = tile[i] < w.tiles();
    const std::int64_t tl = live[i] ? tile[i] : 0;
    codes[i] = w.codes + (tl * chunks * 32 + lane) * 16;
    scales[i] = w.scales + tl * groups * 8 + g;
    mins[i] = w.mins ? w.mins + tl * groups * 8 + g : nullptr;
  }
  const bool asymmetric = p.tw.asymmetric;
  const CodeDecoder<T, Bits> dec(p.zero_point);
  const bool x_live = g < p.M;
  const T* xrow = static_cast<const T*>(p.x) + (x_live ? g : 0) * p.K + 8 * t;

  float acc[kTiles][4] = {};
  for (std::int64_t base = warp; base < chunks; base += kMmaWarps * kMmaUnroll) {
    uint4 q[kMmaUnroll][kTiles];
#pragma unroll
    for (int u = 0; u < kMmaUnroll; ++u) {
      const std::int64_t c = base + kMmaWarps * u;
#pragma unroll
      for (int i = 0; i < kTiles; ++i)
        q[u][i] = (c < chunks && live[i]) ? load_stream16(codes[i] + c * 512) : uint4{};
    }
#pragma unroll
    for (int u = 0; u < kMmaUnroll; ++u) {
      const std::int64_t c = base + kMmaWarps * u;
      if (c >= chunks) break;
      const auto sub = [&](auto s) {
        constexpr int S = decltype(s)::value;
        const std::int64_t col = c * kChunkCols + 32 * S;
        const std::int64_t grp = col >> p.group_shift;
        uint4 xv{};
        if (x_live && col < p.K) xv = *reinterpret_cast<const uint4*>(xrow + col);
        float2 sc[kTiles], mn[kTiles];
#pragma unroll
        for (int i = 0; i < kTiles; ++i) {
          sc[i] = f16x2_bits_to_float2(__ldg(scales[i] + grp * 8));
          mn[i] = asymmetric ? f16x2_bits_to_float2(__ldg(mins[i] + grp * 8)) : float2{};
        }
        mma_sub_chunk<T, Bits, S, kTiles>(dec, q[u], xv, sc, mn, asymmetric, acc);
      };
      sub(std::integral_constant<int, 0>{});
      if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
    }
  }

  __shared__ float red[kMmaWarps][kTiles][4][32];
  if (!sum_warp_partials<kMmaWarps, kTiles>(red, acc, warp, lane)) return;
    // d[r]: row g + 8 * (r / 2) of the tile, token 2t + r % 2.
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int token = 2 * t + (r & 1);
    if (token >= p.M) continue;
    if constexpr (Mode == MmaMode::swiglu) {
      const std::int64_t row = tile[0] * kQuantTileRows + g + 8 * (r >> 1);
      if (row < p.N) store_out<T>(p, token * p.N + row, silu(acc[0][r]) * acc[1][r]);
    } else {
#pragma unroll
      for (int i = 0; i < kTiles; ++i) {
        const std::int64_t row = tile[i] * kQuantTileRows + g + 8 * (r >> 1);
        if (live[i] && row < p.N) store_out<T>(p, token * p.N + row, acc[i][r]);
      }
    }
  }
}

}  // namespace klab::cuda::gemv_impl
