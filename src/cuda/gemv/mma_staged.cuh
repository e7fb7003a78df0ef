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
// RMSNorm prologue (GemvParams::norm_x set; the fused decode `staged` variant): instead of
// copying x, every block reads the f32 rows (the residual stream, after griddepcontrol.wait),
// sums their squares, and writes act(x * inv_rms * w) into the same staged x region, zero past
// K. A runtime branch, once per block: no extra instantiations. The rows are small and in L2;
// each thread's second read of its own 8-column items hits L1.
#pragma once

#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/env_switch.hpp"
#include "cuda/common/l2_prefetch.cuh"
#include "cuda/common/reduce.cuh"
#include "cuda/common/smem_opt_in.hpp"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/gemv/mma_gemv.cuh"
#include "cuda/gemv/qkv_epilogue.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl::staged {

constexpr std::int64_t kMaxXBytes = 64 * 1024;
constexpr std::size_t kMaxDynamicSmem = 219 * 1024;

// Byte sizes of the shared-memory regions (host and device agree through this).
struct Smem {
  std::uint32_t x, scales;
  __host__ __device__ Smem(int M, std::int64_t cols_padded, std::int64_t groups, int tiles,
                           bool asym)
      : x(static_cast<std::uint32_t>(M * cols_padded * 2)),
        scales(static_cast<std::uint32_t>(tiles * groups * 32 * (asym ? 2 : 1))) {}
};

// Chunks a ring stage holds (the copies a warp issues per wait): two for the 4-bit symmetric
// one-tile kernels (86.5 -> 81 SASS a chunk; s26 c3: 7B Q4_0 QKV 12.04 -> 11.83 µs, e2e +1.4%);
// one elsewhere: SwiGLU and asymmetric took more SASS a chunk with two (+2-6%), the
// asymmetric SwiGLU spilled at 64 registers, and 8-bit measured 0..+1% slower (c3).
constexpr int chunks_per_stage(int bits, bool swiglu, bool asym) {
  return bits == 4 && !swiglu && !asym ? 2 : 1;
}

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
template <class T, int W>
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
      const auto h = [&](int j) {
        return pack2<T>(x[b].v[j] * r[b] * w[b].v[j], x[b].v[j + 1] * r[b] * w[b].v[j + 1]);
      };
      // Past K (x and w zero): 0 * r * 0 = 0, the padding the mma loop relies on.
      sts128_at(xs + static_cast<std::uint32_t>(i * 16), uint4{h(0), h(2), h(4), h(6)});
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
template <class T, int Bits, bool Swiglu, bool Asym, int W, int D>
__global__ void __launch_bounds__(W * 32, min_blocks(W)) gemv_mma_staged_kernel(GemvParams p) {
  static_assert((D & (D - 1)) == 0, "ring depth must be a power of two");
  constexpr int kTiles = Swiglu ? 2 : 1;
  constexpr int kSub = Bits == 4 ? 2 : 1;
  constexpr int kChunkCols = 256 / Bits;
  // The ring is kStages stages of kU chunks: one wait, barrier and commit a stage, and the
  // stage's copies and reads at immediate offsets.
  constexpr int kU = chunks_per_stage(Bits, Swiglu, Asym), kStages = D / kU;
  static_assert((kStages & (kStages - 1)) == 0 && kStages >= 2, "stages: a power of two >= 2");
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
  const Smem sz(p.M, cols, groups, kTiles, Asym);
  const std::uint32_t x_s = smem_addr(smem);
  const std::uint32_t scales_s = x_s + sz.x;
  const std::uint32_t mins_s = scales_s + static_cast<std::uint32_t>(kTiles * groups * 32);
  const std::uint32_t ring_s =
      scales_s + sz.scales + static_cast<std::uint32_t>(warp * D * kTiles * 512);
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
  // The lane's code source: chunk j of this warp is W * 512 bytes after chunk j - 1; code_src
  // walks along with the copies issued (the prologue's D - 1, then one an iteration).
  const std::uint8_t* code_src[kTiles];
#pragma unroll
  for (int i = 0; i < kTiles; ++i)
    code_src[i] = (i == 1 ? p.tw_up : p.tw).codes + (tile * chunks * 32 + lane) * 16 + warp * 512;
  const std::uint32_t ring_lane = ring_s + static_cast<std::uint32_t>(lane * 16);
  // Chunk u of a stage is W * 512 bytes after chunk u - 1 (immediate offsets); chunks past the
  // warp's items are not copied.
  const auto issue_stage = [&](int slot, int first) {
    const std::uint32_t dst = ring_lane + static_cast<std::uint32_t>(slot * kU * kTiles * 512);
    const bool whole = first + kU <= items;  // uniform; the common case needs no per-copy test
#pragma unroll
    for (int u = 0; u < kU; ++u)
#pragma unroll
      for (int i = 0; i < kTiles; ++i)
        if (whole || first + u < items)
          cp_async16_at(dst + static_cast<std::uint32_t>((u * kTiles + i) * 512),
                        code_src[i] + u * W * 512, true);
#pragma unroll
    for (int i = 0; i < kTiles; ++i) code_src[i] += kU * W * 512;
    cp_async_commit();
  };

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) issue_stage(s, s * kU);
  decode::pdl_wait();  // x (and the residual read at the end) may come from the previous kernel
  if (p.norm_x != nullptr) {
    // `red` is free until the partial sums after the main loop (barriers in between).
    stage_normalized_x<T, W>(NormRows(p, cols), x_s, &red[0][0][0][0]);
  } else {
    const T* x = static_cast<const T*>(p.x);
    const int x16 = p.M * cols / 8;
    for (int i = threadIdx.x; i < x16; i += W * 32) {
      const int m = i / (cols / 8), c = (i - m * (cols / 8)) * 8;
      const bool in_k = c < K;  // the padded tail is zero
      cp_async16_at(x_s + i * 16, x + (in_k ? std::int64_t{m} * K + c : 0), in_k);
    }
  }
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  // Lanes g >= M read token 0's x: that only feeds mma columns g >= M, which are dropped.
  const std::uint32_t x_lane_s =
      x_s + static_cast<std::uint32_t>(((g < p.M ? g : 0) * cols + 8 * t) * 2);
  const std::uint32_t scale_lane_s = scales_s + g * 4;
  const int gshift = p.group_shift;
  const CodeDecoder<T, Bits> dec(p.zero_point);
  float acc[kTiles][4] = {};
  // The codes, x and the scale lines advance by additions instead of being rebuilt from j each
  // chunk (a group, 32-128 columns, divides the W * kChunkCols columns between a warp's chunks:
  // fits() checks), and the ring slot is an offset. s25 c4 measured this form's SwiGLU -3.6%,
  // while unrolling the loop by the ring depth as well (immediate slot addresses, 89 -> 81 SASS
  // a chunk) was slower at K = 11008 (+9%) and 4096 x 4096 (+4%). The loop is bound by latency
  // at few warps more than by its issue (s26: decodes with 16-21 fewer SASS a chunk were no
  // faster, ncu shows issue slots ~47% busy), so fewer instructions pay only off the chain.
  // The asymmetric SwiGLU (two tiles, mins too) computes its lines from j: walked, it spilled
  // at 64 registers.
  constexpr bool kWalkLines = !(Swiglu && Asym);
  const int col_first = warp * kChunkCols;
  std::uint32_t x_at = x_lane_s + static_cast<std::uint32_t>(col_first * 2);
  std::uint32_t line_at = scale_lane_s + static_cast<std::uint32_t>((col_first >> gshift) * 32);
  const std::uint32_t line_step = static_cast<std::uint32_t>(((W * kChunkCols) >> gshift) * 32);
  const std::uint32_t sub_line =
      static_cast<std::uint32_t>((((col_first + 32) >> gshift) - (col_first >> gshift)) * 32);
  for (int j = 0, stage = 0; j < items; j += kU, ++stage) {
    const int slot = stage & (kStages - 1);
    // Groups committed after the prologue: stage; this stage's group is complete at
    // kStages - 2 pending.
    cp_async_wait<kStages - 2>();
    __syncwarp();  // every lane's stage has landed; every lane is done with the previous one
    issue_stage((slot + kStages - 1) & (kStages - 1), j + (kStages - 1) * kU);
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      if (u > 0 && j + u >= items) break;  // uniform
      const std::uint32_t codes_at =
          ring_lane + static_cast<std::uint32_t>((slot * kU + u) * kTiles * 512);
      uint4 q[kTiles];
#pragma unroll
      for (int i = 0; i < kTiles; ++i)
        q[i] = lds128_at(codes_at + static_cast<std::uint32_t>(i * 512));
      const std::uint32_t x_chunk = x_at + static_cast<std::uint32_t>(u * W * kChunkCols * 2);
      const std::uint32_t line_chunk = line_at + static_cast<std::uint32_t>(u) * line_step;
      const auto sub = [&](auto sub_const) {
        constexpr int S = decltype(sub_const)::value;
        const uint4 xv = lds128_at(x_chunk + 64 * S);
        std::uint32_t line;
        if constexpr (kWalkLines)
          line = S == 0 ? line_chunk : line_chunk + sub_line;
        else
          line =
              scale_lane_s + static_cast<std::uint32_t>(
                                 ((col_first + (j + u) * W * kChunkCols + 32 * S) >> gshift) * 32);
        float2 sc[kTiles], mn[kTiles];
#pragma unroll
        for (int i = 0; i < kTiles; ++i) {
          const std::uint32_t off = static_cast<std::uint32_t>(i * groups * 32);
          sc[i] = f16x2_bits_to_float2(lds32_at(line + off));
          mn[i] =
              Asym ? f16x2_bits_to_float2(lds32_at(line + (mins_s - scales_s) + off)) : float2{};
        }
        mma_sub_chunk<T, Bits, S, kTiles>(dec, q, xv, sc, mn, Asym, acc);
      };
      sub(std::integral_constant<int, 0>{});
      if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
    }
    x_at += kU * W * kChunkCols * 2;
    if constexpr (kWalkLines) line_at += kU * line_step;
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

// Blocks of `warps` warps asking for `smem` dynamic and `static_smem` static bytes that one SM
// holds at once (its shared memory and the 64-register bound). Host; mma_staged.cu.
int blocks_per_sm(int warps, std::size_t smem, std::size_t static_smem);

inline Shape shape_of(const GemvParams& p) {
  const int sms = device_sm_count();
  const bool swiglu = p.epilogue == Epilogue::swiglu;
  const int tiles = swiglu ? 2 : 1;
  const std::int64_t chunks = p.tw.chunks();
  Shape s;
  s.warps = chunks >= 16 * 14 && p.tw.tiles() <= 3 * sms ? 16 : chunks >= 8 * 14 ? 8 : 4;
  if (forced_staged_warps() > 0) s.warps = forced_staged_warps();
  if (swiglu) s.warps = std::min(s.warps, 8);
  const Smem sz(p.M, p.tw.cols_padded, p.tw.groups_padded(), tiles, p.tw.asymmetric);
  const std::size_t base = std::size_t{sz.x} + sz.scales;
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
// sm_90; the static reduction buffer is at most 8 KiB; launch_kernel checks the exact limit).
inline bool fits(const GemvParams& p) {
  return p.group_shift <= 7 &&  // the loop's scale lines advance by whole groups (<= 128)
         std::int64_t{p.M} * p.tw.cols_padded * 2 <= kMaxXBytes &&
         shape_of(p).smem <= kMaxDynamicSmem;
}

// The dynamic shared memory that keeps a grid of `blocks` at ceil(blocks / SMs) blocks an SM
// (GemvParams::spread): each block asks for its share of the SM's shared memory. Never less
// than `smem`; no cap when the share would not fit one block or exceeds the kernel's limit.
std::size_t spread_smem(std::int64_t blocks, std::size_t smem, const KernelSmem& kernel);

template <class T, int Bits, bool Swiglu, bool Asym, int W, int D>
void launch_kernel(const GemvParams& p, std::size_t smem, cudaStream_t stream, bool pdl) {
  constexpr auto* kernel = &gemv_mma_staged_kernel<T, Bits, Swiglu, Asym, W, D>;
  const KernelSmem& ks = kernel_smem<kernel>(kMaxDynamicSmem, "gemv_mma_staged_kernel");
  check_dynamic_smem(smem, ks, "gemv mma_staged");
  const std::int64_t blocks = p.tw.tiles();
  if (p.spread) smem = spread_smem(blocks, smem, ks);
  decode::launch_maybe_pdl(kernel, dim3(static_cast<unsigned>(blocks)), dim3(W * 32), smem, stream,
                           pdl, "gemv_mma_staged_kernel", p);
}

template <class T, int Bits, bool Swiglu, int W, int D>
void launch_depth(const GemvParams& p, std::size_t smem, cudaStream_t stream, bool pdl) {
  p.tw.asymmetric ? launch_kernel<T, Bits, Swiglu, true, W, D>(p, smem, stream, pdl)
                  : launch_kernel<T, Bits, Swiglu, false, W, D>(p, smem, stream, pdl);
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
