// The tensor-core GEMV for wide decode batches (variant mma_wide): `mma`'s tiled-layout math
// (mma_gemv.cuh) with the tokens as NT n-tiles of 8, so each decoded weight fragment feeds NT
// mma instructions and W is streamed once for up to 32 tokens.
//
// Why: batch-16 decode used to run every matrix as two GEMV passes of 8 tokens, streaming the
// weights twice and decoding every code twice (the quantized prefill GEMM, tiled for 128 rows,
// was slower still at 16). Here a block still owns one 16-row tile (two for SwiGLU: gate and
// up) and 8 warps split K; only x (one 16-byte load per n-tile and sub-chunk) and the f32
// accumulators grow with NT.
#pragma once

#include "cuda/gemv/mma_gemv.cuh"
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

template <class T, int Bits, bool Swiglu, int NT>
__global__ void __launch_bounds__(kMmaWarps * 32) gemv_mma_wide_kernel(GemvParams p) {
  constexpr int kTiles = Swiglu ? 2 : 1;
  constexpr int kChunkCols = 256 / Bits;
  constexpr int kSub = Bits == 4 ? 2 : 1;           // 32-column sub-chunks per chunk
  constexpr int kUnroll = NT > 2 ? 2 : kMmaUnroll;  // registers: NT x 16-byte x per sub-chunk
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t chunks = p.tw.chunks(), groups = p.tw.groups_padded();
  const std::int64_t tile = blockIdx.x;

  const std::uint8_t* codes[kTiles];
  const std::uint32_t* scales[kTiles];
  const std::uint32_t* mins[kTiles];
#pragma unroll
  for (int i = 0; i < kTiles; ++i) {
    const QuantTiledView& w = (Swiglu && i == 1) ? p.tw_up : p.tw;
    codes[i] = w.codes + (tile * chunks * 32 + lane) * 16;
    scales[i] = w.scales + tile * groups * 8 + g;
    mins[i] = w.mins ? w.mins + tile * groups * 8 + g : nullptr;
  }
  const bool asymmetric = p.tw.asymmetric;
  const CodeDecoder<T, Bits> dec(p.zero_point);
  // Lane (g, t) supplies token 8 n + g of n-tile n (rows past M read row 0, never stored).
  const T* xrow[NT];
  bool x_live[NT];
#pragma unroll
  for (int n = 0; n < NT; ++n) {
    x_live[n] = 8 * n + g < p.M;
    xrow[n] = static_cast<const T*>(p.x) + (x_live[n] ? 8 * n + g : 0) * p.K + 8 * t;
  }

  float acc[kTiles * NT][4] = {};
  for (std::int64_t base = warp; base < chunks; base += kMmaWarps * kUnroll) {
    uint4 q[kUnroll][kTiles];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t c = base + kMmaWarps * u;
#pragma unroll
      for (int i = 0; i < kTiles; ++i)
        q[u][i] = c < chunks ? load_stream16(codes[i] + c * 512) : uint4{};
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t c = base + kMmaWarps * u;
      if (c >= chunks) break;
      const auto sub = [&](auto s) {
        constexpr int S = decltype(s)::value;
        const std::int64_t col = c * kChunkCols + 32 * S;
        const std::int64_t grp = col >> p.group_shift;
        uint4 xv[NT];
#pragma unroll
        for (int n = 0; n < NT; ++n)
          xv[n] = x_live[n] && col < p.K ? *reinterpret_cast<const uint4*>(xrow[n] + col) : uint4{};
        float2 sc[kTiles], mn[kTiles];
#pragma unroll
        for (int i = 0; i < kTiles; ++i) {
          sc[i] = f16x2_bits_to_float2(__ldg(scales[i] + grp * 8));
          mn[i] = asymmetric ? f16x2_bits_to_float2(__ldg(mins[i] + grp * 8)) : float2{};
        }
        mma_wide_sub_chunk<T, Bits, S, kTiles, NT>(dec, q[u], xv, sc, mn, asymmetric, acc);
      };
      sub(std::integral_constant<int, 0>{});
      if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
    }
  }

  __shared__ float red[kMmaWarps][kTiles * NT][4][32];
  if (!sum_warp_partials<kMmaWarps, kTiles * NT>(red, acc, warp, lane)) return;
    // acc[i * NT + n][r]: row g + 8 (r / 2) of tile i, token 8 n + 2 t + r % 2.
#pragma unroll
  for (int n = 0; n < NT; ++n)
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int token = 8 * n + 2 * t + (r & 1);
      const std::int64_t row = tile * kQuantTileRows + g + 8 * (r >> 1);
      if (token >= p.M || row >= p.N) continue;
      const float v = Swiglu ? silu(acc[n][r]) * acc[NT + n][r] : acc[n][r];
      store_out<T>(p, token * p.N + row, v);
    }
}

// Explicitly instantiated per activation dtype in mma_wide_<dtype>.cu.
template <class T>
void launch_mma_wide_typed(const GemvParams& p, cudaStream_t stream) {
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    const auto blocks = static_cast<unsigned>(p.tw.tiles());
    const auto go = [&](auto swiglu, auto nt) {
      constexpr bool Sw = decltype(swiglu)::value;
      constexpr int NT = decltype(nt)::value;
      gemv_mma_wide_kernel<T, B, Sw, NT><<<blocks, kMmaWarps * 32, 0, stream>>>(p);
      check_launch("gemv_mma_wide_kernel");
    };
    const auto by_tokens = [&](auto swiglu) {
      if (p.M <= 8) return go(swiglu, std::integral_constant<int, 1>{});
      if (p.M <= 16) return go(swiglu, std::integral_constant<int, 2>{});
      return go(swiglu, std::integral_constant<int, 4>{});
    };
    if (p.epilogue == Epilogue::swiglu)
      by_tokens(std::true_type{});
    else
      by_tokens(std::false_type{});
  });
}

}  // namespace klab::cuda::gemv_impl
