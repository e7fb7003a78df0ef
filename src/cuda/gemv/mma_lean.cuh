// The 4-bit tensor-core GEMV with the fewest instructions per 512-byte chunk: `mma_staged`'s
// structure (x and the scales staged in shared memory once per block, codes streamed through a
// per-warp cp.async ring) with a leaner inner loop.
//
// 1. One LOP3 per code pair (LeanNibbleDecoder): A holds 1024 + q (even pairs) and 1024 + 16 q
//    (odd pairs, nibble left in place) instead of the exact q - z; x is staged with the odd-pair
//    columns divided by 16 (f16; exact but for subnormals), so both land in one accumulator as
//    sum(q x) + offsets · sum(x'). bf16 (7-bit mantissa) shifts every pair: 128 + q.
// 2. The offsets cancel in the accumulator itself: per sub-chunk, one mma pair against a
//    constant A (OffsetOperand: -offset on rows 0-7; for asymmetric formats, the column weights
//    of sum(x) on rows 8-15) gives -offsets · sum(x') per token, which the code mmas take as
//    their C operand. That mma pair is shared by every tile of the block. The cancellation
//    leaves f32 rounding at the scale of 1024 |x| (f16) or 128 |x| (bf16): ~1e-5 relative in
//    a sum (simulated), inside the f32-output test tolerance and far below f16 output rounding.
// 3. Scale lines staged per 32-column sub-chunk (groups of 64 / 128 copied 2 / 4 times), so the
//    x, scale and code addresses of ring slot u are a per-round base plus immediates; the ring
//    loop is unrolled by its depth. Each lane reads only the ring bytes it copied itself, so the
//    ring needs no __syncwarp.
// 4. Optionally two row tiles per block (MmaMode::pair, `mma_lean_x2`): each x fragment, offset
//    mma and ring round serves two tiles, and the per-block staging of x is shared by both.
//
// Shared memory: x [M][cols_padded] (zero past K), scale (min) lines [tiles][subs][8 words], then
// the rings [warp][D][tiles][512 bytes]. Supported for 4-bit tiled weights while M x cols_padded
// x 2 <= 64 KiB (decode: M = 1 up to K = 32768).
//
// PDL: scales and the first D - 1 chunks are requested before griddepcontrol.wait, x after it;
// dependents are released after the main loop.
#pragma once

#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/gemv/mma_gemv.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {
int current_sm_count();  // mma_pipelined.cu
}  // namespace klab::cuda::gemv_impl

namespace klab::cuda::gemv_impl::lean {

constexpr std::int64_t kMaxXBytes = 64 * 1024;
constexpr int kSmemLimit = 219 * 1024;  // dynamic bytes asked for; the static reduction <= 8 KiB

// Byte sizes of the shared-memory regions (host and device agree through this).
struct Smem {
  std::uint32_t x, scales;
  __host__ __device__ Smem(int M, std::int64_t cols_padded, int tiles, bool asym)
      : x(static_cast<std::uint32_t>(M * cols_padded * 2)),
        scales(static_cast<std::uint32_t>(tiles * cols_padded * (asym ? 2 : 1))) {}
};

constexpr std::size_t ring_bytes(int warps, int depth, int tiles) {
  return static_cast<std::size_t>(warps) * depth * tiles * 512;
}

constexpr int tiles_of(MmaMode mode) {
  return mode == MmaMode::single ? 1 : 2;
}

// Blocks per SM the register budget is sized for: 80 registers a thread for 4 and 8 warps
// (24 warps per SM; at 64 registers ptxas rebuilt the constant mma operand and the x fragments
// with moves in every chunk), 64 for 16 warps (2 blocks per SM).
constexpr int min_blocks(int warps) {
  return warps >= 16 ? 2 : 24 / warps;
}

// d = a · b + c (c and d distinct registers: the offset term enters without a move).
template <class T>
__device__ __forceinline__ void mma_plus_c(float (&d)[4], const std::uint32_t (&a)[4],
                                           const std::uint32_t (&b)[2], float c0, float c1,
                                           float c2, float c3) {
  constexpr bool kF16 = std::is_same_v<T, __half>;
  if constexpr (kF16)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c0), "f"(c1),
          "f"(c2), "f"(c3));
  else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c0), "f"(c1),
          "f"(c2), "f"(c3));
}

template <class T>
__device__ __forceinline__ std::uint32_t pair_bits(float v) {
  if constexpr (std::is_same_v<T, __half>)
    return as_bits(__float2half2_rn(v));
  else
    return as_bits(__float2bfloat162_rn(v));
}

// The constant A operand of the offset mma pair. Each k-step of a sub-chunk holds even pairs
// (a[0], a[1]: mma k 2t, 2t + 1) and odd pairs (a[2], a[3]: k 2t + 8, 2t + 9), so one quad
// serves both k-steps: rows 0-7 weigh x' by -even_offset / -odd_offset; rows 8-15 the same
// (symmetric: c = -offset · x' for rows g and g + 8) or by the weights that make sum(x)
// (asymmetric: c[2], c[3] = sum(x) of tokens 2t, 2t + 1, for the min term).
//
// The quad holds repeated values; built in registers, ptxas keeps one copy of each value and
// rebuilds the quad with moves before every mma (~10 per chunk). Loaded from shared memory once,
// it stays four live registers.
template <class T, bool Asym>
struct OffsetOperand {
  std::uint32_t a[4];
  // Thread 0 writes the quad to `slot` (16 bytes of shared memory) before the block barrier.
  __device__ static void store(const LeanNibbleDecoder<T>& dec, std::uint32_t slot) {
    const std::uint32_t ne = pair_bits<T>(-dec.even_offset), no = pair_bits<T>(-dec.odd_offset);
    const std::uint32_t se = Asym ? pair_bits<T>(1.0f) : ne;
    const std::uint32_t so = Asym ? pair_bits<T>(LeanNibbleDecoder<T>::odd_x_weight) : no;
    asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(slot), "r"(ne), "r"(se),
                 "r"(no), "r"(so)
                 : "memory");
  }
  __device__ explicit OffsetOperand(std::uint32_t slot) {
    const uint4 v = lds128_at(slot);
    a[0] = v.x, a[1] = v.y, a[2] = v.z, a[3] = v.w;
  }
};

// acc[i] += scale_i · (codes of sub-chunk S of tile i) · x (+ min_i · sum(x)). k-step J takes
// pairs 2J (even) and 2J + 1 (odd) against x' words 2J, 2J + 1 (as mma_gemv.cuh's order).
template <class T, bool Asym, int S, int Tiles>
__device__ __forceinline__ void lean_sub_chunk(const LeanNibbleDecoder<T>& dec,
                                               const OffsetOperand<T, Asym>& off,
                                               const uint4 (&q)[Tiles], const uint4& xv,
                                               const float2 (&sc)[Tiles], const float2 (&mn)[Tiles],
                                               float (&acc)[Tiles][4]) {
  const std::uint32_t b0[2] = {xv.x, xv.y}, b1[2] = {xv.z, xv.w};
  float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  mma_m16n8k16<T>(c, off.a, b0);
  mma_m16n8k16<T>(c, off.a, b1);
  // Symmetric: c = -offsets · x' for rows g and g + 8. Asymmetric: c[2], c[3] are sum(x).
  const float c2 = Asym ? c[0] : c[2], c3 = Asym ? c[1] : c[3];
#pragma unroll
  for (int i = 0; i < Tiles; ++i) {
    const std::uint32_t w = word_of<2 * S>(q[i]), w8 = word_of<2 * S + 1>(q[i]);
    const std::uint32_t a0[4] = {dec.template pair<0>(w), dec.template pair<0>(w8),
                                 dec.template pair<1>(w), dec.template pair<1>(w8)};
    const std::uint32_t a1[4] = {dec.template pair<2>(w), dec.template pair<2>(w8),
                                 dec.template pair<3>(w), dec.template pair<3>(w8)};
    float d[4];
    mma_plus_c<T>(d, a0, b0, c[0], c[1], c2, c3);
    mma_m16n8k16<T>(d, a1, b1);
    acc[i][0] = fmaf(d[0], sc[i].x, acc[i][0]);
    acc[i][1] = fmaf(d[1], sc[i].x, acc[i][1]);
    acc[i][2] = fmaf(d[2], sc[i].y, acc[i][2]);
    acc[i][3] = fmaf(d[3], sc[i].y, acc[i][3]);
    if constexpr (Asym) {
      acc[i][0] = fmaf(c[2], mn[i].x, acc[i][0]);
      acc[i][1] = fmaf(c[3], mn[i].x, acc[i][1]);
      acc[i][2] = fmaf(c[2], mn[i].y, acc[i][2]);
      acc[i][3] = fmaf(c[3], mn[i].y, acc[i][3]);
    }
  }
}

// f16 only: the odd-pair columns (words 1 and 3 of every 8 columns) of this thread's staged x
// items, divided by 16 in place (each thread touches only the items it copied).
template <class T, int W>
__device__ __forceinline__ void scale_odd_pairs(std::uint32_t x_s, int x16) {
  if constexpr (LeanNibbleDecoder<T>::odd_x_scale != 1.0f) {
    const __half2 k = __float2half2_rn(LeanNibbleDecoder<T>::odd_x_scale);
    for (int i = threadIdx.x; i < x16; i += W * 32) {
      uint4 v = lds128_at(x_s + i * 16);
      v.y = as_bits(__hmul2(bits_as<__half2>(v.y), k));
      v.w = as_bits(__hmul2(bits_as<__half2>(v.w), k));
      asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(x_s + i * 16), "r"(v.x),
                   "r"(v.y), "r"(v.z), "r"(v.w)
                   : "memory");
    }
  }
}

// Chunk j of warp w is chunk w + j * W of the block's tile(s); ring slot j % D.
template <class T, MmaMode Mode, bool Asym, int W, int D>
__global__ void __launch_bounds__(W * 32, min_blocks(W)) gemv_mma_lean_kernel(GemvParams p) {
  static_assert((D & (D - 1)) == 0 && D >= 2, "ring depth must be a power of two");
  constexpr int kTiles = tiles_of(Mode);
  constexpr std::uint32_t kSlot = kTiles * 512;
  extern __shared__ __align__(16) std::uint8_t smem[];
  __shared__ float red[W][kTiles][4][32];
  __shared__ __align__(16) std::uint32_t offset_quad[4];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int chunks = static_cast<int>(p.tw.chunks());
  const int cols = chunks * 64;  // cols_padded
  const int subs = chunks * 2;   // 32-column sub-chunks
  const int groups = static_cast<int>(p.tw.groups_padded());
  const int K = static_cast<int>(p.K);
  const Smem sz(p.M, cols, kTiles, Asym);
  const std::uint32_t x_s = smem_addr(smem);
  const std::uint32_t scales_s = x_s + sz.x;
  const std::uint32_t mins_s = scales_s + static_cast<std::uint32_t>(kTiles * subs * 32);
  const std::uint32_t ring_s =
      scales_s + sz.scales + static_cast<std::uint32_t>(warp * D) * kSlot + lane * 16;
  const int items = chunks > warp ? (chunks - warp + W - 1) / W : 0;

  // The block's tiles: one; gate and up (swiglu); or 2b and 2b + 1 (pair; an odd last block
  // computes its one tile twice and stores it once).
  std::int64_t tile[kTiles];
  const std::uint8_t* code_src[kTiles];
  const std::uint32_t* scale_src[kTiles];
  const std::uint32_t* min_src[kTiles];
#pragma unroll
  for (int i = 0; i < kTiles; ++i) {
    const bool up = Mode == MmaMode::swiglu && i == 1;
    tile[i] = Mode == MmaMode::pair
                  ? std::min<std::int64_t>(2 * std::int64_t{blockIdx.x} + i, p.tw.tiles() - 1)
                  : blockIdx.x;
    // Pointers selected, not a QuantTiledView reference (that would copy a parameter struct).
    code_src[i] =
        (up ? p.tw_up.codes : p.tw.codes) + (tile[i] * chunks * 32 + lane) * 16 + warp * 512;
    scale_src[i] = (up ? p.tw_up.scales : p.tw.scales) + tile[i] * groups * 8;
    min_src[i] = Asym ? (up ? p.tw_up.mins : p.tw.mins) + tile[i] * groups * 8 : nullptr;
  }

  // Scale (min) lines per sub-chunk: [tile][sub][8 words], 2 x 16 bytes per sub-chunk.
  const int gshift = p.group_shift;
  for (int i = threadIdx.x; i < kTiles * subs * 2; i += W * 32) {
    const int tl = i / (subs * 2), rest = i - tl * subs * 2;
    const int word = (((rest >> 1) * 32) >> gshift) * 8 + (rest & 1) * 4;
    const std::uint32_t* sc = tl == 1 ? scale_src[kTiles - 1] : scale_src[0];
    cp_async16_at(scales_s + i * 16, sc + word, true);
    if constexpr (Asym) {
      const std::uint32_t* mn = tl == 1 ? min_src[kTiles - 1] : min_src[0];
      cp_async16_at(mins_s + i * 16, mn + word, true);
    }
  }
  // Chunk j of tile i is at code_src[i] + j * kStep.
  constexpr std::int64_t kStep = W * 512;
  for (int j = 0; j < D - 1; ++j) {
    if (j < items)
#pragma unroll
      for (int i = 0; i < kTiles; ++i)
        cp_async16_at(ring_s + j * kSlot + i * 512, code_src[i] + j * kStep, true);
    cp_async_commit();
  }
  decode::pdl_wait();  // x (and the residual read at the end) may come from the previous kernel
  const T* x = static_cast<const T*>(p.x);
  const int x16 = p.M * cols / 8;
  for (int i = threadIdx.x; i < x16; i += W * 32) {
    const int m = i / (cols / 8), c = (i - m * (cols / 8)) * 8;
    const bool in_k = c < K;  // the padded tail is zero
    cp_async16_at(x_s + i * 16, x + (in_k ? std::int64_t{m} * K + c : 0), in_k);
  }
  cp_async_commit();
  const LeanNibbleDecoder<T> dec(p.zero_point);
  const std::uint32_t offset_s = smem_addr(offset_quad);
  if (threadIdx.x == 0) OffsetOperand<T, Asym>::store(dec, offset_s);
  cp_async_wait<0>();
  scale_odd_pairs<T, W>(x_s, x16);
  __syncthreads();

  // Lanes g >= M read token 0's x: that only feeds mma columns g >= M, which are dropped.
  const std::uint32_t x_lane_s =
      x_s + static_cast<std::uint32_t>(((g < p.M ? g : 0) * cols + 8 * t) * 2 + warp * 128);
  const std::uint32_t scale_lane_s = scales_s + g * 4 + warp * 64;
  const std::uint32_t tile_lines = static_cast<std::uint32_t>(subs * 32);
  const OffsetOperand<T, Asym> off(offset_s);
  float acc[kTiles][4] = {};
  for (int r = 0; r * D < items; ++r) {
    const int j0 = r * D;
    const std::uint32_t x_r = x_lane_s + static_cast<std::uint32_t>(j0 * W * 128);
    const std::uint32_t scale_r = scale_lane_s + static_cast<std::uint32_t>(j0 * W * 64);
    // Sources of this round's prefetches (chunks j0 + D - 1 ...): plus u * kStep below.
    const std::uint8_t* src_r[kTiles];
#pragma unroll
    for (int i = 0; i < kTiles; ++i) src_r[i] = code_src[i] + (j0 + D - 1) * kStep;
#pragma unroll
    for (int u = 0; u < D; ++u) {
      const int j = j0 + u;
      if (j >= items) break;
      // Groups committed after the prologue: j; chunk j's group is complete at D - 2 pending.
      cp_async_wait<D - 2>();
      if (j + D - 1 < items)
#pragma unroll
        for (int i = 0; i < kTiles; ++i)
          cp_async16_at(ring_s + ((u + D - 1) & (D - 1)) * kSlot + i * 512, src_r[i] + u * kStep,
                        true);
      cp_async_commit();
      uint4 q[kTiles];
#pragma unroll
      for (int i = 0; i < kTiles; ++i) q[i] = lds128_at(ring_s + u * kSlot + i * 512);
      const auto sub = [&](auto sub_const) {
        constexpr int S = decltype(sub_const)::value;
        const uint4 xv = lds128_at(x_r + (u * W * 128 + S * 64));
        float2 sc[kTiles], mn[kTiles];
#pragma unroll
        for (int i = 0; i < kTiles; ++i) {
          const std::uint32_t line = scale_r + (u * W * 64 + S * 32) + i * tile_lines;
          sc[i] = f16x2_bits_to_float2(lds32_at(line));
          mn[i] = Asym ? f16x2_bits_to_float2(lds32_at(line + (mins_s - scales_s))) : float2{};
        }
        lean_sub_chunk<T, Asym, S, kTiles>(dec, off, q, xv, sc, mn, acc);
      };
      sub(std::integral_constant<int, 0>{});
      sub(std::integral_constant<int, 1>{});
    }
  }
  // Late trigger (as mma_staged): the successor takes the SM slots this block frees.
  decode::pdl_launch_dependents();
  cp_async_wait<0>();

  if (!sum_warp_partials<W, kTiles>(red, acc, warp, lane)) return;
  if constexpr (Mode == MmaMode::pair) {
    const float first[1][4] = {{acc[0][0], acc[0][1], acc[0][2], acc[0][3]}};
    const float second[1][4] = {{acc[1][0], acc[1][1], acc[1][2], acc[1][3]}};
    store_tile<T, false, 1>(p, first, tile[0], g, t);
    if (tile[1] != tile[0]) store_tile<T, false, 1>(p, second, tile[1], g, t);
  } else {
    store_tile<T, Mode == MmaMode::swiglu, kTiles>(p, acc, tile[0], g, t);
  }
}

// The launch shape: as mma_staged (~14+ chunks per warp so the per-block staging and reduction
// stay small; 16 warps only when tiles are few), ring depth D.
struct Shape {
  int warps = 8;
  std::size_t smem = 0;
  unsigned blocks = 0;
};

inline Shape shape_of(const GemvParams& p, MmaMode mode, int depth) {
  static const int sms = current_sm_count();  // one device per process (as the engine)
  const int tiles = tiles_of(mode);
  const std::int64_t chunks = p.tw.chunks();
  const std::int64_t blocks = mode == MmaMode::pair ? (p.tw.tiles() + 1) / 2 : p.tw.tiles();
  Shape s;
  s.warps = chunks >= 16 * 14 && blocks <= 3 * sms ? 16 : chunks >= 8 * 14 ? 8 : 4;
  if (tiles == 2) s.warps = std::min(s.warps, 8);
  const Smem sz(p.M, p.tw.cols_padded, tiles, p.tw.asymmetric);
  s.smem = std::size_t{sz.x} + sz.scales + ring_bytes(s.warps, depth, tiles);
  s.blocks = static_cast<unsigned>(blocks);
  return s;
}

// 4-bit tiled weights, x staged within kMaxXBytes, everything within one block's shared memory.
inline bool fits(const GemvParams& p, MmaMode mode, int depth) {
  return p.tw.bits == 4 && std::int64_t{p.M} * p.tw.cols_padded * 2 <= kMaxXBytes &&
         shape_of(p, mode, depth).smem <= kSmemLimit;
}

template <class T, MmaMode Mode, bool Asym, int W, int D>
void launch_kernel(const GemvParams& p, const Shape& s, cudaStream_t stream, bool pdl) {
  constexpr auto* kernel = &gemv_mma_lean_kernel<T, Mode, Asym, W, D>;
  static const bool raised = [] {  // once, to the most any supported call asks for
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemLimit),
          "cudaFuncSetAttribute(gemv_mma_lean_kernel)");
    return true;
  }();
  (void)raised;
  decode::launch_maybe_pdl(kernel, dim3(s.blocks), dim3(W * 32), s.smem, stream, pdl,
                           "gemv_mma_lean_kernel", p);
}

template <class T, MmaMode Mode, int W, int D>
void launch_asym(const GemvParams& p, const Shape& s, cudaStream_t stream, bool pdl) {
  p.tw.asymmetric ? launch_kernel<T, Mode, true, W, D>(p, s, stream, pdl)
                  : launch_kernel<T, Mode, false, W, D>(p, s, stream, pdl);
}

// Single-tile blocks (swiglu: gate + up) or pairs of tiles, ring depth D.
template <class T, bool Pair, int D>
void launch_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  const MmaMode mode = p.epilogue == Epilogue::swiglu ? MmaMode::swiglu
                       : Pair                         ? MmaMode::pair
                                                      : MmaMode::single;
  const Shape s = shape_of(p, mode, D);
  if constexpr (Pair) {
    if (mode != MmaMode::pair)  // refused by supports()
      fail("gemv mma_lean_x2: the swiglu epilogue already pairs gate and up tiles");
    s.warps == 8 ? launch_asym<T, MmaMode::pair, 8, D>(p, s, stream, pdl)
                 : launch_asym<T, MmaMode::pair, 4, D>(p, s, stream, pdl);
  } else if (mode == MmaMode::swiglu) {
    s.warps == 8 ? launch_asym<T, MmaMode::swiglu, 8, D>(p, s, stream, pdl)
                 : launch_asym<T, MmaMode::swiglu, 4, D>(p, s, stream, pdl);
  } else if (s.warps == 16) {
    launch_asym<T, MmaMode::single, 16, D>(p, s, stream, pdl);
  } else {
    s.warps == 8 ? launch_asym<T, MmaMode::single, 8, D>(p, s, stream, pdl)
                 : launch_asym<T, MmaMode::single, 4, D>(p, s, stream, pdl);
  }
}

}  // namespace klab::cuda::gemv_impl::lean

namespace klab::cuda::gemv_impl::lean {
// One translation unit per (activation dtype, variant) (nvcc time on 2-core CI).
extern template void launch_act<__half, false, 8>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16, false, 8>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__half, true, 8>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16, true, 8>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__half, false, 4>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16, false, 4>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::lean
