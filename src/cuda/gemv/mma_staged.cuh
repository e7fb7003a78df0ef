// The tensor-core GEMV (`mma`'s math and tiled layout, mma_gemv.cuh) with x and the tile's
// scales staged in shared memory once per block, and only the codes streamed, through a
// per-warp cp.async ring D chunks deep.
//
// Why: on the H200 `mma` and `mma_async` are issue-bound at 4 bits (ncu: IPC ~2.5, ~150
// instructions per 512-byte chunk per warp against ~57 for the decode + mma itself); the
// per-chunk x and scale copies, their address arithmetic and LDGSTS padding were most of the
// rest. Staged once, x and the scales cost one shared load per use; a chunk then costs one
// code copy, one code load, two x loads and two scale loads around its decode and 4 mma.
//
// Shared memory: x [M][cols_padded] (zero past K), scales (and mins) [tiles][groups][8 words],
// then the rings [warp][D][tiles][512 bytes]. Supported while M x cols_padded x 2 <= 64 KiB
// (decode: M = 1 up to K = 32768); larger x goes to `mma`.
//
// PDL: scales and the first D - 1 chunks are requested before griddepcontrol.wait, x after it;
// dependents are released after the main loop.
//
// Bias fold (`Fold`; opt-in, f16 activations and 4-bit codes only): a 4-bit pair decodes with
// one LOP3 to 1024 + q (even pairs) or 1024 + 16 q (odd pairs) and the mma takes that as it is,
// so the bias op each pair costs (HSUB2 / HFMA2, 16 of the loop's 89 instructions a chunk at
// 4 warps, H200 SASS) leaves the loop. The odd pairs meet the x halves at offsets 2, 3, 6, 7 of
// each lane's 8-column item, so those are staged divided by 16 (exact for normal f16), and the
// mma's C starts at -corr, corr[32-column block][token] = (1024 + z) sum(x even slots) +
// (1024 + 16 z) sum(x/16 odd slots), computed once per block from the staged x; the
// sub-chunk's mma then yields sum((q - z) x) as before (f32 carries the 1024 x terms: relative
// error ~1e-5 of a block's sum, under f16's rounding of the output).
// History (s22): the first form measured 14.23 against 12.23 µs at 12288 x 4096 (c5). Its
// SASS: the main loop had lost the 2-chunk unroll (ptxas) and, with the corr negation and a
// lane predicate, took 95 instructions a chunk against 89. This form stores -corr, pads the
// token rows to a power of two (every lane loads, no predicate) and unrolls the loop by 2
// explicitly; the default path keeps x's cp.async staging (its SASS: the same instructions as
// before the fold; the SwiGLU kernels' order differs).
//
// RMSNorm prologue (GemvParams::norm_x set; the fused decode `staged` variant): instead of
// copying x, every block reads the f32 rows (the residual stream, after griddepcontrol.wait),
// sums their squares, and writes act(x * inv_rms * w) into the same staged x region, zero past
// K. A runtime branch, once per block: no extra instantiations. The rows are small and in L2;
// each thread's second read of its own 8-column items hits L1.
#pragma once

#include <algorithm>
#include <type_traits>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/env_switch.hpp"
#include "cuda/common/l2_prefetch.cuh"
#include "cuda/common/reduce.cuh"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/gemv/mma_gemv.cuh"
#include "cuda/gemv/qkv_epilogue.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {
int current_sm_count();  // mma_pipelined.cu
}  // namespace klab::cuda::gemv_impl

namespace klab::cuda::gemv_impl::staged {

constexpr std::int64_t kMaxXBytes = 64 * 1024;
constexpr std::size_t kMaxDynamicSmem = 219 * 1024;

// Byte sizes of the shared-memory regions (host and device agree through this).
// corr (Fold only): f32 [cols / 32][corr_tokens(M) / 2][4], each token pair's C start
// {-corr(2p), -corr(2p + 1), -corr(2p), -corr(2p + 1)}: one 16-byte load is a lane's whole C.
struct Smem {
  std::uint32_t x, scales, corr;
  __host__ __device__ Smem(int M, std::int64_t cols_padded, std::int64_t groups, int tiles,
                           bool asym, bool fold)
      : x(static_cast<std::uint32_t>(M * cols_padded * 2)),
        scales(static_cast<std::uint32_t>(tiles * groups * 32 * (asym ? 2 : 1))),
        corr(fold ? static_cast<std::uint32_t>(cols_padded / 32 * corr_tokens(M) * 8) : 0) {}
  // Tokens a corr row holds: 2, 4 or 8, a power of two so lane t reads tokens (2t, 2t + 1)
  // masked into the row; the lanes whose tokens are past M read others' sums, which feed only
  // the mma columns that are never stored.
  __host__ __device__ static int corr_tokens(int M) { return M <= 2 ? 2 : M <= 4 ? 4 : 8; }
};

constexpr std::size_t ring_bytes(int warps, int depth, int tiles) {
  return static_cast<std::size_t>(warps) * depth * tiles * 512;
}

// Blocks per SM the register budget is sized for: 64 registers a thread at any W
// (65536 / (64 x 32 W)).
constexpr int min_blocks(int warps) {
  return 32 / warps;
}

// ---- RMSNorm prologue ------------------------------------------------------------------------

// 8 consecutive floats from p, those at or past `n` (the row's end) zero; two float4 loads
// when `vec` (16-byte aligned rows) and the 8 are inside the row.
struct Floats8 {
  float v[8];
};
__device__ __forceinline__ Floats8 load8(const float* p, int n, bool vec) {
  Floats8 r;
  if (vec && n >= 8) {
    const float4 a = reinterpret_cast<const float4*>(p)[0];
    const float4 b = reinterpret_cast<const float4*>(p)[1];
    r = {{a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w}};
  } else {
#pragma unroll
    for (int j = 0; j < 8; ++j) r.v[j] = j < n ? p[j] : 0.0f;
  }
  return r;
}

// Item i of the staged x region: 8 columns [c, c + 8) of token m (the cp.async path's 16-byte
// unit); `row_items` items per token.
struct XItem {
  int m, c;
  __device__ XItem(int i, int row_items) : m(i / row_items), c((i - m * row_items) * 8) {}
};

// A 16-byte store to a 32-bit shared-memory address (the copies' and loads' addressing).
__device__ __forceinline__ void sts128_at(std::uint32_t a, const uint4& v) {
  asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(a), "r"(v.x), "r"(v.y), "r"(v.z),
               "r"(v.w)
               : "memory");
}

// ---- Bias fold (Fold) ---------------------------------------------------------------------------

constexpr float kOddSlotScale = 1.0f / 16.0f;  // x halves 2, 3, 6, 7 of an item, staged / 16

// 4-bit pair J of a code word as the f16 pair the mma takes: 1024 + q (even J) or 1024 + 16 q
// (odd J, the nibble left in place), one LOP3 (CodeDecoder<__half, 4>::pair without its bias op).
template <int J>
__device__ __forceinline__ std::uint32_t biased_pair(std::uint32_t w, std::uint32_t magic) {
  const std::uint32_t v = w >> (8 * (J / 2));
  return J % 2 == 0 ? and_or<0x000F000Fu>(v, magic) : and_or<0x00F000F0u>(v, magic);
}

// code_fragment's A operand for 4-bit sub-chunk S, k-half J, biased: a[2], a[3] (the mma's k
// rows 8..15, met by b[1]: the item's halves 2, 3 / 6, 7) hold the odd pairs.
template <int S, int J>
__device__ __forceinline__ void biased_fragment(const uint4& q, std::uint32_t magic,
                                                std::uint32_t (&a)[4]) {
  const std::uint32_t wg = word_of<2 * S>(q), wg8 = word_of<2 * S + 1>(q);
  a[0] = biased_pair<2 * J>(wg, magic);
  a[1] = biased_pair<2 * J>(wg8, magic);
  a[2] = biased_pair<2 * J + 1>(wg, magic);
  a[3] = biased_pair<2 * J + 1>(wg8, magic);
}

// mma_sub_chunk (mma_gemv.cuh) on biased fragments: C starts at -corr of the lane's tokens
// (2t, 2t + 1), loaded from c_s once a tile straight into the mma's registers (a shared copy
// costs one load where register copies of one load cost 4 moves a tile), so d is
// sum((q - z) x) again before the scale. The asymmetric sum(x) mma
// weights the odd slots by 16 to undo their staging.
template <int S, int Tiles>
__device__ __forceinline__ void mma_sub_chunk_folded(const uint4 (&q)[Tiles], const uint4& xv,
                                                     const float2 (&sc)[Tiles],
                                                     const float2 (&mn)[Tiles], bool asymmetric,
                                                     std::uint32_t c_s, std::uint32_t magic,
                                                     float (&acc)[Tiles][4]) {
  const std::uint32_t b0[2] = {xv.x, xv.y}, b1[2] = {xv.z, xv.w};
#pragma unroll
  for (int i = 0; i < Tiles; ++i) {
    const uint4 c = lds128_at(c_s);
    float d[4] = {__uint_as_float(c.x), __uint_as_float(c.y), __uint_as_float(c.z),
                  __uint_as_float(c.w)};
    std::uint32_t a[4];
    biased_fragment<S, 0>(q[i], magic, a);
    mma_m16n8k16<__half>(d, a, b0);
    biased_fragment<S, 1>(q[i], magic, a);
    mma_m16n8k16<__half>(d, a, b1);
    add_scaled(d, sc[i], acc[i]);
  }
  if (asymmetric) {
    constexpr std::uint32_t one = 0x3C003C00u, sixteen = 0x4C004C00u;  // f16 pairs 1, 16
    const std::uint32_t ones[4] = {one, one, sixteen, sixteen};
    add_min_terms<__half, Tiles>(ones, b0, b1, mn, acc);
  }
}

// -corr of every (32-column block, token) of the staged x, twice, into corr_s (Smem::corr's
// layout; zero for the padding tokens). Reads the staged (odd slots / 16) halves; the caller's
// barrier publishes the sums.
template <int W>
__device__ __noinline__ void stage_fold_corrections(std::uint32_t x_s, std::uint32_t corr_s, int M,
                                                    int cols, int zero_point) {
  const int mp = Smem::corr_tokens(M), blocks = cols / 32;
  const float even_bias = 1024.0f + static_cast<float>(zero_point);
  const float odd_bias = 1024.0f + 16.0f * static_cast<float>(zero_point);
  for (int i = threadIdx.x; i < mp * blocks; i += W * 32) {
    const int c32 = i / mp, m = i - c32 * mp;
    float even = 0.0f, odd = 0.0f;
    if (m < M) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const uint4 v =
            lds128_at(x_s + static_cast<std::uint32_t>((m * cols + c32 * 32 + 8 * k) * 2));
        const float2 e0 = f16x2_bits_to_float2(v.x), o0 = f16x2_bits_to_float2(v.y);
        const float2 e1 = f16x2_bits_to_float2(v.z), o1 = f16x2_bits_to_float2(v.w);
        even += (e0.x + e0.y) + (e1.x + e1.y);
        odd += (o0.x + o0.y) + (o1.x + o1.y);
      }
    }
    const float neg = -(even_bias * even + odd_bias * odd);
    const std::uint32_t at =
        corr_s + static_cast<std::uint32_t>(((c32 * mp + (m & ~1)) * 2 + (m & 1)) * 4);
    asm volatile("st.shared.f32 [%0], %1;\n st.shared.f32 [%0+8], %1;\n" ::"r"(at), "f"(neg)
                 : "memory");
  }
}

// What the norm prologue reads: a few registers, not the parameter struct (the prologue is an
// out-of-line call, see stage_normalized_x).
struct NormRows {
  const float* x;
  std::int64_t stride;  // elements between rows of x
  const float* w;
  float eps;
  int M, K, cols;  // cols: the staged row length (cols_padded)
  bool vec;        // float4 loads: rows and weight 16-byte aligned

  __device__ explicit NormRows(const GemvParams& p, int cols_padded)
      : x(p.norm_x),
        stride(p.norm_x_stride),
        w(p.norm_w),
        eps(p.norm_eps),
        M(p.M),
        K(static_cast<int>(p.K)),
        cols(cols_padded),
        vec(((reinterpret_cast<std::uintptr_t>(p.norm_x) |
              reinterpret_cast<std::uintptr_t>(p.norm_w)) &
             15) == 0 &&
            p.norm_x_stride % 4 == 0) {}
  __device__ const float* row(int m, int c) const { return x + m * stride + c; }
  __device__ int row_items() const { return cols / 8; }
  __device__ int items() const { return M * row_items(); }
};

// scratch[W * 8 + m] = inv_rms of token m (m < M), visible to the whole block on return.
// scratch: W * 8 + 8 floats. Loads go out kBatch items at a time so a decode row (M = 1, K up
// to ~16k) is one round trip; each token's partial sums stay in registers (unrolled selects).
template <int W>
__device__ __forceinline__ void norm_inv_rms(const NormRows& n, float* scratch) {
  constexpr int kThreads = W * 32, kBatch = 4, kTokens = 8;
  const int items = n.items(), row_items = n.row_items();
  float sum[kTokens] = {};
  for (int i0 = threadIdx.x; i0 < items; i0 += kBatch * kThreads) {
    Floats8 x[kBatch];
    int token[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int i = i0 + b * kThreads;
      const XItem it(i < items ? i : 0, row_items);
      const bool live = i < items && it.c < n.K;
      token[b] = live ? it.m : -1;
      x[b] = live ? load8(n.row(it.m, it.c), n.K - it.c, n.vec) : Floats8{};
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      float s = 0.0f;
#pragma unroll
      for (int j = 0; j < 8; ++j) s = fmaf(x[b].v[j], x[b].v[j], s);
#pragma unroll
      for (int m = 0; m < kTokens; ++m) sum[m] += m == token[b] ? s : 0.0f;  // no local array
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int m = 0; m < kTokens; ++m) {
    if (m >= n.M) break;  // uniform: every lane takes part in the shuffles
    const float s = warp_sum(sum[m]);
    if (lane == 0) scratch[warp * kTokens + m] = s;
  }
  __syncthreads();
  if (static_cast<int>(threadIdx.x) < n.M) {
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < W; ++w) s += scratch[w * kTokens + threadIdx.x];
    scratch[W * kTokens + threadIdx.x] = rsqrtf(s / static_cast<float>(n.K) + n.eps);
  }
  __syncthreads();
}

// The staged x region (shared address xs) as act(x * inv_rms * w), zero past K (the order of
// rmsnorm_to_half's product, one rounding). Barriers inside: every thread of the block calls it.
// Out of line on purpose: inlined, it changed the register allocation of the main loop that
// follows (4-bit SwiGLU asymmetric spilled 16 bytes there at the 64-register bound); as a call
// it costs a few stack stores once per block.
template <class T, int W, bool Fold>
__device__ __noinline__ void stage_normalized_x(const NormRows n, std::uint32_t xs,
                                                float* scratch) {
  constexpr int kThreads = W * 32, kBatch = 2;
  norm_inv_rms<W>(n, scratch);
  const float* inv_rms = scratch + W * 8;
  const int items = n.items(), row_items = n.row_items();
  for (int i0 = threadIdx.x; i0 < items; i0 += kBatch * kThreads) {
    Floats8 x[kBatch], w[kBatch];
    float r[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int i = i0 + b * kThreads;
      const XItem it(i < items ? i : 0, row_items);
      const bool live = i < items && it.c < n.K;
      x[b] = live ? load8(n.row(it.m, it.c), n.K - it.c, n.vec) : Floats8{};
      w[b] = live ? load8(n.w + it.c, n.K - it.c, n.vec) : Floats8{};
      r[b] = inv_rms[it.m];
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int i = i0 + b * kThreads;
      if (i >= items) break;
      const auto h = [&](int j) {  // Fold: pairs 2 and 6 are odd slots (exact power-of-2 scale)
        const float f = Fold && (j == 2 || j == 6) ? kOddSlotScale : 1.0f;
        return pack2<T>(x[b].v[j] * r[b] * w[b].v[j] * f, x[b].v[j + 1] * r[b] * w[b].v[j + 1] * f);
      };
      // Past K (x and w zero): 0 * r * 0 = 0, the padding the mma loop relies on.
      sts128_at(xs + static_cast<std::uint32_t>(i * 16), uint4{h(0), h(2), h(4), h(6)});
    }
  }
}

// The fold's x staging: x [M][K] into the staged region [M][cols] (zero past K, odd slots / 16)
// through registers, since cp.async cannot scale on the way. Loads go out kBatch at a time (one
// round trip for a decode row). Each thread's own stores; the caller's barrier publishes them.
// Out of line for the reason stage_normalized_x is (inlined, it changed the main loop's
// register allocation: 16 bytes of spills in 4-bit asymmetric SwiGLU).
template <class T, int W>
__device__ __noinline__ void stage_folded_x(const T* __restrict__ x, int M, int K, int cols,
                                            std::uint32_t xs) {
  constexpr int kThreads = W * 32, kBatch = 4;
  const int row_items = cols / 8, items = M * row_items;
  for (int i0 = threadIdx.x; i0 < items; i0 += kBatch * kThreads) {
    uint4 v[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int i = i0 + b * kThreads;
      const XItem it(i < items ? i : 0, row_items);
      const bool live = i < items && it.c < K;  // the padded tail is zero
      v[b] = live ? *reinterpret_cast<const uint4*>(x + std::int64_t{it.m} * K + it.c) : uint4{};
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int i = i0 + b * kThreads;
      const __half2 f = __float2half2_rn(kOddSlotScale);
      v[b].y = as_bits(__hmul2(bits_as<__half2>(v[b].y), f));
      v[b].w = as_bits(__hmul2(bits_as<__half2>(v[b].w), f));
      if (i < items) sts128_at(xs + static_cast<std::uint32_t>(i * 16), v[b]);
    }
  }
}

// This block's share of p.l2_after (one thread issues it). Out of line: called once a block,
// after the main loop, it must not change the loop's register allocation.
// The ranges by value: a reference would make the whole parameter struct addressable (a copy of
// it on every thread's stack).
static __device__ __noinline__ void prefetch_l2_after(const L2Ranges r, std::int64_t tile,
                                                      std::int64_t first_block) {
  prefetch_l2_share(r, static_cast<std::uint64_t>(tile - first_block),
                    static_cast<std::uint64_t>(gridDim.x - first_block));
}

// Chunk j of warp w is chunk w + j * W of the block's tile.
template <class T, int Bits, bool Swiglu, bool Asym, int W, int D, bool Fold>
__global__ void __launch_bounds__(W * 32, min_blocks(W)) gemv_mma_staged_kernel(GemvParams p) {
  static_assert((D & (D - 1)) == 0, "ring depth must be a power of two");
  static_assert(!Fold || (Bits == 4 && std::is_same_v<T, __half>), "the fold is f16 4-bit");
  constexpr int kTiles = Swiglu ? 2 : 1;
  constexpr int kSub = Bits == 4 ? 2 : 1;
  constexpr int kChunkCols = 256 / Bits;
  extern __shared__ __align__(16) std::uint8_t smem[];
  __shared__ float red[W][kTiles][4][32];
  static_assert(sizeof(red) >= (W * 8 + 8) * sizeof(float), "norm scratch lives in red");

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int chunks = static_cast<int>(p.tw.chunks());
  const int cols = chunks * kChunkCols;  // cols_padded
  const int groups = static_cast<int>(p.tw.groups_padded());
  const int K = static_cast<int>(p.K);
  const std::int64_t tile = blockIdx.x;
  const Smem sz(p.M, cols, groups, kTiles, Asym, Fold);
  const std::uint32_t x_s = smem_addr(smem);
  const std::uint32_t scales_s = x_s + sz.x;
  const std::uint32_t mins_s = scales_s + static_cast<std::uint32_t>(kTiles * groups * 32);
  const std::uint32_t corr_s = scales_s + sz.scales;
  const std::uint32_t ring_s =
      corr_s + sz.corr + static_cast<std::uint32_t>(warp * D * kTiles * 512);
  const int items = chunks > warp ? (chunks - warp + W - 1) / W : 0;

  // The tile's scale (min) lines: [tile][group][8 words], 2 x 16 bytes per group.
  const int lines16 = kTiles * groups * 2;
  for (int i = threadIdx.x; i < lines16; i += W * 32) {
    const int tl = i / (groups * 2), rest = i - tl * groups * 2;
    const std::int64_t word = tile * groups * 8 + rest * 4;
    // Pointers selected, not a QuantTiledView reference (that would copy a parameter struct).
    cp_async16_at(scales_s + i * 16, (tl == 1 ? p.tw_up.scales : p.tw.scales) + word, true);
    if constexpr (Asym)
      cp_async16_at(mins_s + i * 16, (tl == 1 ? p.tw_up.mins : p.tw.mins) + word, true);
  }
  const std::uint8_t* code_src[kTiles];
#pragma unroll
  for (int i = 0; i < kTiles; ++i)
    code_src[i] = (i == 1 ? p.tw_up : p.tw).codes + (tile * chunks * 32 + lane) * 16 + warp * 512;
  const auto issue_codes = [&](int j) {
    const std::uint32_t s = ring_s + static_cast<std::uint32_t>((j & (D - 1)) * kTiles * 512);
    const std::uint32_t step = static_cast<std::uint32_t>(j) * (W * 512);
#pragma unroll
    for (int i = 0; i < kTiles; ++i)
      cp_async16_at(s + i * 512 + lane * 16, code_src[i] + step, true);
  };

  for (int j = 0; j < D - 1; ++j) {
    if (j < items) issue_codes(j);
    cp_async_commit();
  }
  decode::pdl_wait();  // x (and the residual read at the end) may come from the previous kernel
  if (p.norm_x != nullptr) {
    // `red` is free until the partial sums after the main loop (barriers in between).
    stage_normalized_x<T, W, Fold>(NormRows(p, cols), x_s, &red[0][0][0][0]);
  } else {
    if constexpr (Fold) {
      stage_folded_x<T, W>(static_cast<const T*>(p.x), p.M, K, cols, x_s);
    } else {
      const T* x = static_cast<const T*>(p.x);
      const int x16 = p.M * cols / 8;
      for (int i = threadIdx.x; i < x16; i += W * 32) {
        const int m = i / (cols / 8), c = (i - m * (cols / 8)) * 8;
        const bool in_k = c < K;  // the padded tail is zero
        cp_async16_at(x_s + i * 16, x + (in_k ? std::int64_t{m} * K + c : 0), in_k);
      }
    }
  }
  cp_async_commit();  // x's copies (none with the fold)
  // Everything in flight, the ring's first chunks too: waiting for the scales alone (their own
  // group) measured no faster (s22 c3, H200: 12.31 vs 12.32 µs at 12288 x 4096).
  cp_async_wait<0>();
  __syncthreads();
  if constexpr (Fold) {
    stage_fold_corrections<W>(x_s, corr_s, p.M, cols, p.zero_point);
    __syncthreads();
  }

  // Lanes g >= M read token 0's x: that only feeds mma columns g >= M, which are dropped.
  const std::uint32_t x_lane_s =
      x_s + static_cast<std::uint32_t>(((g < p.M ? g : 0) * cols + 8 * t) * 2);
  const std::uint32_t scale_lane_s = scales_s + g * 4;
  const int gshift = p.group_shift;
  const CodeDecoder<T, Bits> dec(p.zero_point);
  // Fold: the lane's token pair (2t, 2t + 1) masked into a corr row (Smem::corr_tokens).
  const int corr_tokens = Smem::corr_tokens(p.M);
  const std::uint32_t corr_lane_s =
      corr_s + static_cast<std::uint32_t>((t & (corr_tokens / 2 - 1)) * 16);
  float acc[kTiles][4] = {};
  const auto chunk_step = [&](int j) {
    // Groups committed after the prologue: j; chunk j's group is complete at D - 2 pending.
    cp_async_wait<D - 2>();
    __syncwarp();  // every lane's chunk j has landed; every lane is done with chunk j - 1
    if (j + D - 1 < items) issue_codes(j + D - 1);
    cp_async_commit();
    const std::uint32_t s = ring_s + static_cast<std::uint32_t>((j & (D - 1)) * kTiles * 512);
    uint4 q[kTiles];
#pragma unroll
    for (int i = 0; i < kTiles; ++i) q[i] = lds128_at(s + i * 512 + lane * 16);
    const int col0 = (warp + j * W) * kChunkCols;
    const auto sub = [&](auto sub_const) {
      constexpr int S = decltype(sub_const)::value;
      const int col = col0 + 32 * S;
      const uint4 xv = lds128_at(x_lane_s + col * 2);
      const std::uint32_t line = static_cast<std::uint32_t>((col >> gshift) * 32);
      float2 sc[kTiles], mn[kTiles];
#pragma unroll
      for (int i = 0; i < kTiles; ++i) {
        const std::uint32_t off = static_cast<std::uint32_t>(i * groups * 32) + line;
        sc[i] = f16x2_bits_to_float2(lds32_at(scale_lane_s + off));
        mn[i] = Asym ? f16x2_bits_to_float2(lds32_at(scale_lane_s + (mins_s - scales_s) + off))
                     : float2{};
      }
      if constexpr (Fold) {
        const std::uint32_t c_s =
            corr_lane_s + static_cast<std::uint32_t>((col >> 5) * corr_tokens * 8);
        mma_sub_chunk_folded<S, kTiles>(q, xv, sc, mn, Asym, c_s, dec.magic, acc);
      } else {
        mma_sub_chunk<T, Bits, S, kTiles>(dec, q, xv, sc, mn, Asym, acc);
      }
    };
    sub(std::integral_constant<int, 0>{});
    if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
  };
  // The fold's loop unrolled by 2 as ptxas does on its own for the default one (which, forced,
  // spills in the asymmetric SwiGLU instantiations); left to itself it kept the fold's loop
  // rolled (s22 c5's first form).
  if constexpr (Fold) {
#pragma unroll 2
    for (int j = 0; j < items; ++j) chunk_step(j);
  } else {
    for (int j = 0; j < items; ++j) chunk_step(j);
  }
  if (p.l2_after.total != 0 && tile >= p.l2_after_first_block && threadIdx.x == 0)
    prefetch_l2_after(p.l2_after, tile, p.l2_after_first_block);
  // Late trigger: a PDL-launched successor (the next GEMV) may now take the SM slots this block
  // frees and start its own weight stream; triggered at the top, its blocks waited in those
  // slots while this kernel still had waves to run (measured slower in the decode step).
  decode::pdl_launch_dependents();
  cp_async_wait<0>();

  if (!sum_warp_partials<W, kTiles>(red, acc, warp, lane)) return;
  if constexpr (!Swiglu) {
    if (p.qkv.on) {  // uniform: the whole of warp 0 stores (the epilogue shuffles)
      store_qkv_rope_tile<T>(p.qkv, p.M, acc[0], tile, g, t);
      return;
    }
  }
  store_tile<T, Swiglu, kTiles>(p, acc, tile, g, t);
}

// The launch shape: 8 chunks in flight per warp, and ~14+ chunks per warp so the per-block
// fixed costs (staging, the partial-sum reduction) stay small: H200 ncu at N=14336 K=4096 with 8
// warps (8 chunks each): ~140 instructions per chunk executed against ~88 in the loop. So 4
// warps at K = 4096, 8 for K ~ 8-11k, 16 for K ~ 14k when tiles are few (N = 4096: 256 blocks,
// ~2 per SM, still ~32 warps per SM). SwiGLU blocks carry two tiles and use at most 8 warps.
struct Shape {
  int warps = 8;
  int depth = 8;
  std::size_t smem = 0;
};

// KLAB_CUDA_STAGED_WARPS = 4, 8 or 16 replaces the rule below (a study switch for the bench,
// read once; SwiGLU stays capped at 8).
inline int forced_staged_warps() {
  static const int w = [] {
    const int n = env_int("KLAB_CUDA_STAGED_WARPS");
    return n == 4 || n == 8 || n == 16 ? n : 0;
  }();
  return w;
}

// KLAB_CUDA_STAGED_DEPTH = 4 or 8 replaces the SwiGLU ring depth of the one-wave search below;
// KLAB_CUDA_STAGED_ONE_WAVE=0 turns the search off (the rule's warps, 8 deep). Study switches,
// read once.
inline int forced_staged_depth() {
  static const int d = [] {
    const int n = env_int("KLAB_CUDA_STAGED_DEPTH");
    return n == 4 || n == 8 ? n : 0;
  }();
  return d;
}
inline bool one_wave_search() {
  static const bool on = !env_equals("KLAB_CUDA_STAGED_ONE_WAVE", "0");
  return on;
}

// The bias fold: f16 activations and 4-bit codes, when GemvParams::staged_fold is set (the
// `mma_staged_fold` variants) or KLAB_CUDA_STAGED_FOLD=1 (every mma_staged launch; a study
// switch, read once).
inline bool folds(const GemvParams& p) {
  static const bool all = env_equals("KLAB_CUDA_STAGED_FOLD", "1");
  return (all || p.staged_fold) && p.act == DType::f16 && p.tw.bits == 4;
}

// Blocks of `warps` warps asking for `smem` dynamic and `static_smem` static bytes that one SM
// holds at once (its shared memory and the 64-register bound). Host; mma_staged.cu.
int blocks_per_sm(int warps, std::size_t smem, std::size_t static_smem);

inline Shape shape_of(const GemvParams& p) {
  static const int sms = current_sm_count();  // one device per process (as the engine)
  const bool swiglu = p.epilogue == Epilogue::swiglu;
  const int tiles = swiglu ? 2 : 1;
  const std::int64_t chunks = p.tw.chunks();
  Shape s;
  s.warps = chunks >= 16 * 14 && p.tw.tiles() <= 3 * sms ? 16 : chunks >= 8 * 14 ? 8 : 4;
  if (forced_staged_warps() > 0) s.warps = forced_staged_warps();
  if (swiglu) s.warps = std::min(s.warps, 8);
  const Smem sz(p.M, p.tw.cols_padded, p.tw.groups_padded(), tiles, p.tw.asymmetric, folds(p));
  const std::size_t base = std::size_t{sz.x} + sz.scales + sz.corr;
  // A grid that spills past one wave leaves its second wave's blocks streaming alone after the
  // first has left HBM idle: Llama-2-7B Q4_0 gate/up (688 tiles, 4 warps, 8 deep) held 4 blocks
  // an SM on an H100, 1.3 waves; 4 deep (SwiGLU only: two tiles, twice the ring) holds 6, one
  // wave. Q8_0 QKV (768 tiles) at 8 warps holds 4 an SM; at 4 warps, 7. So when the rule's shape
  // is not one wave, the first of (depth 4; half the warps, depth 8; half the warps, depth 4)
  // that is; else the rule's shape (Llama-3-8B gate/up, 896 tiles, measured slower at 1.13
  // waves of depth 4 than at 1.7 of depth 8).
  const auto one_wave = [&](int warps, int depth) {
    const std::size_t red = static_cast<std::size_t>(warps) * tiles * 512;
    return p.tw.tiles() <=
           std::int64_t{sms} * blocks_per_sm(warps, base + ring_bytes(warps, depth, tiles), red);
  };
  const int half = std::max(4, s.warps / 2);
  if (forced_staged_depth() != 0) {
    if (swiglu) s.depth = forced_staged_depth();
  } else if (forced_staged_warps() == 0 && one_wave_search() && !one_wave(s.warps, 8)) {
    if (swiglu && one_wave(s.warps, 4)) {
      s.depth = 4;
    } else if (half < s.warps && one_wave(half, 8)) {
      s.warps = half;
    } else if (swiglu && half < s.warps && one_wave(half, 4)) {
      s.warps = half;
      s.depth = 4;
    }
  }
  s.smem = base + ring_bytes(s.warps, s.depth, tiles);
  return s;
}

// x staged within kMaxXBytes, and everything within one block's shared memory (227 KiB on
// sm_90; the static reduction buffer is at most 8 KiB).
inline bool fits(const GemvParams& p) {
  return std::int64_t{p.M} * p.tw.cols_padded * 2 <= kMaxXBytes &&
         shape_of(p).smem <= kMaxDynamicSmem;
}

// The dynamic shared memory that keeps a grid of `blocks` at ceil(blocks / SMs) blocks an SM
// (GemvParams::spread): each block asks for its share of the SM's shared memory. Never less
// than `smem`; no cap when the share would not fit one block.
std::size_t spread_smem(std::int64_t blocks, std::size_t smem, std::size_t static_smem);

template <class T, int Bits, bool Swiglu, bool Asym, int W, int D, bool Fold>
void launch_kernel(const GemvParams& p, std::size_t smem, cudaStream_t stream, bool pdl) {
  constexpr auto* kernel = &gemv_mma_staged_kernel<T, Bits, Swiglu, Asym, W, D, Fold>;
  static const std::size_t static_smem = [] {  // once: raise to the most any call asks for
    check(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxDynamicSmem),
        "cudaFuncSetAttribute(gemv_mma_staged_kernel)");
    cudaFuncAttributes attr{};
    check(cudaFuncGetAttributes(&attr, kernel), "cudaFuncGetAttributes(gemv_mma_staged_kernel)");
    return attr.sharedSizeBytes;
  }();
  const std::int64_t blocks = p.tw.tiles();
  if (p.spread) smem = spread_smem(blocks, smem, static_smem);
  decode::launch_maybe_pdl(kernel, dim3(static_cast<unsigned>(blocks)), dim3(W * 32), smem, stream,
                           pdl, "gemv_mma_staged_kernel", p);
}

template <class T, int Bits, bool Swiglu, bool Asym, int W, int D>
void launch_fold(const GemvParams& p, std::size_t smem, cudaStream_t stream, bool pdl) {
  if constexpr (Bits == 4 && std::is_same_v<T, __half>)
    if (folds(p)) return launch_kernel<T, Bits, Swiglu, Asym, W, D, true>(p, smem, stream, pdl);
  launch_kernel<T, Bits, Swiglu, Asym, W, D, false>(p, smem, stream, pdl);
}

template <class T, int Bits, bool Swiglu, int W, int D>
void launch_depth(const GemvParams& p, std::size_t smem, cudaStream_t stream, bool pdl) {
  p.tw.asymmetric ? launch_fold<T, Bits, Swiglu, true, W, D>(p, smem, stream, pdl)
                  : launch_fold<T, Bits, Swiglu, false, W, D>(p, smem, stream, pdl);
}

// Only SwiGLU instantiates the 4-deep ring (shape_of never picks it for one tile).
template <class T, int Bits, bool Swiglu, int W>
void launch_shape(const GemvParams& p, const Shape& s, cudaStream_t stream, bool pdl) {
  if constexpr (Swiglu)
    if (s.depth == 4) return launch_depth<T, Bits, Swiglu, W, 4>(p, s.smem, stream, pdl);
  launch_depth<T, Bits, Swiglu, W, 8>(p, s.smem, stream, pdl);
}

template <class T>
void launch_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  const Shape s = shape_of(p);
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    if (p.epilogue == Epilogue::swiglu)
      s.warps == 8 ? launch_shape<T, B, true, 8>(p, s, stream, pdl)
                   : launch_shape<T, B, true, 4>(p, s, stream, pdl);
    else if (s.warps == 16)
      launch_shape<T, B, false, 16>(p, s, stream, pdl);
    else
      s.warps == 8 ? launch_shape<T, B, false, 8>(p, s, stream, pdl)
                   : launch_shape<T, B, false, 4>(p, s, stream, pdl);
  });
}

}  // namespace klab::cuda::gemv_impl::staged

namespace klab::cuda::gemv_impl::staged {
// One translation unit per activation dtype (nvcc time on 2-core CI).
extern template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::staged
