// The tensor-core GEMV (same math and tiled layout as `mma`, see mma_gemv.cuh) with every
// operand of a chunk -- the lane's 16 code bytes, the group's scale (and min) words, the x
// fragments -- copied into a per-warp shared-memory ring by cp.async, D chunks ahead.
//
// Why: `mma` measured 58-61% of copy bandwidth on the H100 and 30% of DRAM peak on the H200
// (ncu: 22% achieved occupancy, 64 registers): its loads are issued in bursts and each chunk
// then waits for dependent scale / x loads, so few DRAM bytes are in flight on average. Two
// register-ring rewrites (mma_pipelined, mma_stream) measured slower. Here the ring lives in
// shared memory, so it costs no registers and no dynamically indexed register arrays, and the
// consumer never touches global memory: D x 512 B of codes per warp are always in flight.
//
// Each lane reads back only what it needs: its own 16 code bytes, the scale words of its row
// pair (copied by lanes 0..3 per tile and sub-chunk, 16 bytes each) and, for token rows g < M,
// its x fragment; __syncwarp() orders the other lanes' copies and the slot's reuse.
//
// PDL: the first D - 1 chunks' weights are requested before griddepcontrol.wait, x after it,
// so under programmatic dependent launch the weight stream starts during the previous
// kernel's tail; launched normally, the wait returns at once.
#pragma once

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/gemv/mma_gemv.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl::async {

// Byte layout of one ring slot (one chunk of kTiles tiles, x of up to MaxM tokens), every
// offset a compile-time multiple of 16: codes [tile][lane][16], scale lines [tile][sub][8
// words], min lines (same; copied only when asymmetric), x [sub][token][t][16 bytes].
template <int Bits, int Tiles, int MaxM>
struct Slot {
  static constexpr int kSub = Bits == 4 ? 2 : 1;  // 32-column sub-chunks per chunk
  static constexpr int kLine = 32;
  static constexpr int kCodes = 0;
  static constexpr int kScales = Tiles * 512;
  static constexpr int kMins = kScales + Tiles * kSub * kLine;
  static constexpr int kX = kMins + Tiles * kSub * kLine;
  static constexpr int kBytes = kX + kSub * MaxM * 64;
};

// The copy only where `on`, zero-filling the 16 bytes where !valid (predicated, no branch).
__device__ __forceinline__ void cp_async16_zfill_if(bool on, std::uint32_t smem, const void* gmem,
                                                    bool valid) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %2, 0;\n"
      " @p cp.async.cg.shared.global [%0], [%1], 16, %3;\n}\n" ::"r"(smem),
      "l"(gmem), "r"(static_cast<int>(on)), "r"(valid ? 16 : 0)
      : "memory");
}

// The copy only where `on` (a predicated instruction, not a divergent branch).
__device__ __forceinline__ void cp_async16_if(bool on, std::uint32_t smem, const void* gmem) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %2, 0;\n"
      " @p cp.async.cg.shared.global [%0], [%1], 16;\n}\n" ::"r"(smem),
      "l"(gmem), "r"(static_cast<int>(on))
      : "memory");
}

// Chunk j of warp w is chunk w + j * kWarps of the block's tile. All per-item state is 32-bit
// and advances by a constant per item; the slot of item j is j % D (D a power of two).
template <class T, int Bits, bool Swiglu, bool Asym, int kWarps, int D, int MaxM>
__global__ void __launch_bounds__(kWarps * 32, kWarps == 16 ? 2 : 4)
    gemv_mma_async_kernel(GemvParams p) {
  static_assert((D & (D - 1)) == 0, "ring depth must be a power of two");
  constexpr int kTiles = Swiglu ? 2 : 1;
  using L = Slot<Bits, kTiles, MaxM>;
  constexpr int kSub = L::kSub;
  constexpr int kChunkCols = 256 / Bits;
  constexpr int kColStep = kWarps * kChunkCols;
  extern __shared__ __align__(16) std::uint8_t ring[];
  __shared__ float red[kWarps][kTiles][4][32];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int chunks = static_cast<int>(p.tw.chunks());
  const int K = static_cast<int>(p.K);
  const int gshift = p.group_shift;
  const std::int64_t groups = p.tw.groups_padded();
  const std::int64_t tile = blockIdx.x;
  const int items = chunks > warp ? (chunks - warp + kWarps - 1) / kWarps : 0;
  const std::uint32_t ring_warp =
      smem_addr(ring) + static_cast<std::uint32_t>(warp * D * L::kBytes);
  const auto slot_of = [&](int j) {
    return ring_warp + static_cast<std::uint32_t>((j & (D - 1)) * L::kBytes);
  };

  // This lane's sources. Codes: its 16 bytes of each tile's chunk. Scale (min) lines: lane
  // L < 2 * kSub * kTiles copies half L & 1 of line (tile L / (2 kSub), sub (L / 2) % kSub).
  const std::uint8_t* code_src[kTiles];
#pragma unroll
  for (int i = 0; i < kTiles; ++i)
    code_src[i] = (i == 1 ? p.tw_up : p.tw).codes + (tile * chunks * 32 + lane) * 16 + warp * 512;
  const int line_tile = lane / (2 * kSub), line_sub = (lane >> 1) % kSub, line_half = lane & 1;
  const bool line_lane = lane < 2 * kSub * kTiles;
  // Select the pointers, not a QuantTiledView reference: a runtime choice between two kernel
  // parameter structs is copied to the stack.
  const bool line_up = kTiles == 2 && line_tile == 1;
  const std::int64_t line_base = tile * groups * 8 + line_half * 4;
  const std::uint32_t* scale_src = (line_up ? p.tw_up.scales : p.tw.scales) + line_base;
  const std::uint32_t* min_src =
      Asym ? (line_up ? p.tw_up.mins : p.tw.mins) + line_base : scale_src;
  const std::uint32_t line_dst =
      static_cast<std::uint32_t>((line_tile * kSub + line_sub) * L::kLine + line_half * 16);
  const int line_col = warp * kChunkCols + 32 * line_sub;
  // x: lane (g, t) copies token g's 8 columns 8t..8t+7 of each sub-chunk. Lanes g >= M read
  // token 0's fragment instead: it only feeds mma output columns g >= M, which are dropped.
  const bool x_lane = g < p.M;
  const int x_row = x_lane ? g : 0;
  const T* x_src = static_cast<const T*>(p.x) + x_row * p.K + 8 * t;
  const int x_col = warp * kChunkCols + 8 * t;
  const std::uint32_t x_dst = static_cast<std::uint32_t>(L::kX + (g * 4 + t) * 16);
  const std::uint32_t x_read = static_cast<std::uint32_t>(L::kX + (x_row * 4 + t) * 16);

  // Item j's copies (j < items; the min keeps the prologue's addresses in range when it is not).
  const auto issue_weights = [&](int j) {
    const std::uint32_t s = slot_of(j);
    const int jj = min(j, items - 1);
    const std::uint32_t step = static_cast<std::uint32_t>(jj) * (kWarps * 512);
#pragma unroll
    for (int i = 0; i < kTiles; ++i)
      cp_async16_if(true, s + i * 512 + lane * 16, code_src[i] + step);
    const std::uint32_t word = static_cast<std::uint32_t>((line_col + jj * kColStep) >> gshift) * 8;
    cp_async16_if(line_lane, s + L::kScales + line_dst, scale_src + word);
    if constexpr (Asym) cp_async16_if(line_lane, s + L::kMins + line_dst, min_src + word);
  };
  const auto issue_x = [&](int j) {
    const std::uint32_t s = slot_of(j) + x_dst;
    const int col = x_col + min(j, items - 1) * kColStep;
#pragma unroll
    for (int sub = 0; sub < kSub; ++sub) {
      // Past K (a last chunk that is half padding): zero-filled, so padded codes meet zeros.
      const int c = col + 32 * sub;
      cp_async16_zfill_if(x_lane, s + sub * MaxM * 64, x_src + min(c, K - 8) - 8 * t, c < K);
    }
  };

  for (int j = 0; j < D - 1; ++j)
    if (j < items) issue_weights(j);
  decode::pdl_wait();  // x (and the residual read at the end) may come from the previous kernel
  for (int j = 0; j < D - 1; ++j) {
    if (j < items) issue_x(j);
    cp_async_commit();
  }

  const CodeDecoder<T, Bits> dec(p.zero_point);
  float acc[kTiles][4] = {};
  for (int j = 0; j < items; ++j) {
    // Groups committed so far: D - 1 + j; chunk j is group j.
    cp_async_wait<D - 2>();
    // Every lane's copies of chunk j have landed, and every lane is done with chunk j - 1,
    // whose slot the next copy refills.
    __syncwarp();
    if (j + D - 1 < items) {  // warp-uniform
      issue_weights(j + D - 1);
      issue_x(j + D - 1);
    }
    cp_async_commit();
    const std::uint32_t s = slot_of(j);
    uint4 q[kTiles];
#pragma unroll
    for (int i = 0; i < kTiles; ++i) q[i] = lds128_at(s + i * 512 + lane * 16);
    const auto sub = [&](auto sub_const) {
      constexpr int S = decltype(sub_const)::value;
      const uint4 xv = lds128_at(s + x_read + S * MaxM * 64);
      float2 sc[kTiles], mn[kTiles];
#pragma unroll
      for (int i = 0; i < kTiles; ++i) {
        const std::uint32_t off = (i * kSub + S) * L::kLine + g * 4;
        sc[i] = f16x2_bits_to_float2(lds32_at(s + L::kScales + off));
        mn[i] = Asym ? f16x2_bits_to_float2(lds32_at(s + L::kMins + off)) : float2{};
      }
      mma_sub_chunk<T, Bits, S, kTiles>(dec, q, xv, sc, mn, Asym, acc);
    };
    sub(std::integral_constant<int, 0>{});
    if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
  }
  // Late trigger: a PDL-launched successor (the next GEMV) may now take the SM slots this block
  // frees and start its own weight stream; triggered at the top, its blocks waited in those
  // slots while this kernel still had waves to run (measured slower in the decode step).
  decode::pdl_launch_dependents();
  cp_async_wait<0>();  // no copy may still target the ring when the block exits

  if (!sum_warp_partials<kWarps, kTiles>(red, acc, warp, lane)) return;
  store_tile<T, Swiglu, kTiles>(p, acc, tile, g, t);
}

template <class T, int Bits, bool Swiglu, bool Asym, int kWarps, int D, int MaxM>
void launch_kernel(const GemvParams& p, cudaStream_t stream, bool pdl) {
  constexpr auto* kernel = &gemv_mma_async_kernel<T, Bits, Swiglu, Asym, kWarps, D, MaxM>;
  constexpr int kSmem = kWarps * D * Slot < Bits, Swiglu ? 2 : 1, MaxM > ::kBytes;
  static const bool raised = [] {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem),
          "cudaFuncSetAttribute(gemv_mma_async_kernel)");
    return true;
  }();
  (void)raised;
  decode::launch_maybe_pdl(kernel, dim3(static_cast<unsigned>(p.tw.tiles())), dim3(kWarps * 32),
                           kSmem, stream, pdl, "gemv_mma_async_kernel", p);
}

template <class T, int Bits, bool Swiglu, int W, int D, int MaxM>
void launch_shape(const GemvParams& p, cudaStream_t stream, bool pdl) {
  p.tw.asymmetric ? launch_kernel<T, Bits, Swiglu, true, W, D, MaxM>(p, stream, pdl)
                  : launch_kernel<T, Bits, Swiglu, false, W, D, MaxM>(p, stream, pdl);
}

// Decode (M = 1): 8 chunks in flight per warp; M = 2..8: slots carry 8 x rows, 4 deep. Few
// tiles (N <= 3 x 16 x SMs, e.g. N = 4096 on 132 SMs): 16 warps per block, so every SM still
// runs ~32 warps (ncu, 8 warps at N = 4096: 14 warps/SM, 1.3 eligible per scheduler). SwiGLU
// blocks already carry two tiles and stay at 8 warps (16 would spill at 64 registers).
template <class T>
void launch_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  const int sms = device_sm_count();
  const bool few_tiles = p.tw.tiles() <= 3 * sms;
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    if (p.epilogue == Epilogue::swiglu)
      p.M <= 1 ? launch_shape<T, B, true, 8, 8, 1>(p, stream, pdl)
               : launch_shape<T, B, true, 8, 4, 8>(p, stream, pdl);
    else if (p.M > 1)
      launch_shape<T, B, false, 8, 4, 8>(p, stream, pdl);
    else
      few_tiles ? launch_shape<T, B, false, 16, 8, 1>(p, stream, pdl)
                : launch_shape<T, B, false, 8, 8, 1>(p, stream, pdl);
  });
}

}  // namespace klab::cuda::gemv_impl::async

namespace klab::cuda::gemv_impl::async {
// One translation unit per activation dtype (nvcc time on 2-core CI).
extern template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::async
