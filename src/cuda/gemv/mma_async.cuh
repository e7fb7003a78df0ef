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
#include "cuda/common/smem_tiles.cuh"
#include "cuda/gemv/mma_gemv.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl::async {

constexpr int kWarps = 8;

// Byte layout of one ring slot (one chunk of kTiles tiles), all offsets multiples of 16.
template <int Bits, int Tiles>
struct SlotLayout {
  static constexpr int kSub = Bits == 4 ? 2 : 1;  // 32-column sub-chunks per chunk
  static constexpr int kCodes = Tiles * 512;
  static constexpr int kScaleLine = 32;  // 8 words: rows g and g + 8 for g in 0..7
  static constexpr int kScales = Tiles * kSub * kScaleLine;
  int bytes = 0, mins = 0, x = 0;  // mins: 0 when symmetric
  __host__ __device__ constexpr SlotLayout(int M, bool asymmetric) {
    mins = kCodes + kScales;
    x = mins + (asymmetric ? kScales : 0);
    bytes = x + kSub * M * 64;  // [sub][token][t][16 bytes]
  }
};

__device__ __forceinline__ void cp_async16_to(std::uint32_t smem, const void* gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem), "l"(gmem),
               "r"(valid ? 16 : 0)
               : "memory");
}

__device__ __forceinline__ uint4 lds128(std::uint32_t a) {
  uint4 v;
  asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "r"(a));
  return v;
}

__device__ __forceinline__ std::uint32_t lds32(std::uint32_t a) {
  std::uint32_t v;
  asm volatile("ld.shared.u32 %0, [%1];\n" : "=r"(v) : "r"(a));
  return v;
}

template <class T, int Bits, bool Swiglu, int D>
__global__ void __launch_bounds__(kWarps * 32) gemv_mma_async_kernel(GemvParams p) {
  constexpr int kTiles = Swiglu ? 2 : 1;
  using Slot = SlotLayout<Bits, kTiles>;
  constexpr int kSub = Slot::kSub;
  constexpr int kChunkCols = 256 / Bits;
  extern __shared__ __align__(16) std::uint8_t ring[];
  __shared__ float red[kWarps][kTiles][4][32];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int chunks = static_cast<int>(p.tw.chunks());
  const std::int64_t groups = p.tw.groups_padded();
  const bool asymmetric = p.tw.asymmetric;
  const Slot slot(p.M, asymmetric);
  const std::int64_t tile = blockIdx.x;

  const std::uint8_t* codes[kTiles];
  const std::uint32_t* scales[kTiles];
  const std::uint32_t* mins[kTiles];
#pragma unroll
  for (int i = 0; i < kTiles; ++i) {
    const QuantTiledView& w = i == 1 ? p.tw_up : p.tw;
    codes[i] = w.codes + (tile * chunks * 32 + lane) * 16;
    scales[i] = w.scales + tile * groups * 8;
    mins[i] = w.mins ? w.mins + tile * groups * 8 : scales[i];
  }
  const T* x = static_cast<const T*>(p.x);
  const bool x_lane = g < p.M;
  const std::uint32_t ring_base =
      smem_addr(ring) + static_cast<std::uint32_t>(warp * D * slot.bytes);

  // Chunk j of this warp is chunk warp + j * kWarps of the tile.
  const int items = chunks > warp ? (chunks - warp + kWarps - 1) / kWarps : 0;
  // Scale / min lines: lane L < 2 * kSub * kTiles copies half h = L & 1 of line (tile, sub).
  const int line_tile = lane / (2 * kSub), line_sub = (lane >> 1) % kSub, line_half = lane & 1;
  const bool line_lane = lane < 2 * kSub * kTiles;
  const auto issue_weights = [&](int j) {
    const int c = warp + j * kWarps;
    const std::uint32_t s = ring_base + static_cast<std::uint32_t>((j % D) * slot.bytes);
#pragma unroll
    for (int i = 0; i < kTiles; ++i)
      cp_async16_to(s + i * 512 + lane * 16, codes[i] + std::int64_t{c} * 512, true);
    if (line_lane) {
      const std::int64_t grp = (std::int64_t{c} * kChunkCols + 32 * line_sub) >> p.group_shift;
      const std::uint32_t off = (line_tile * kSub + line_sub) * Slot::kScaleLine + line_half * 16;
      const std::int64_t word = grp * 8 + line_half * 4;
      // A select, not scales[line_tile]: a dynamic index would put the arrays on the stack.
      const bool up = kTiles == 2 && line_tile == 1;
      cp_async16_to(s + Slot::kCodes + off, (up ? scales[kTiles - 1] : scales[0]) + word, true);
      if (asymmetric)
        cp_async16_to(s + slot.mins + off, (up ? mins[kTiles - 1] : mins[0]) + word, true);
    }
  };
  const auto issue_x = [&](int j) {
    if (!x_lane) return;
    const int c = warp + j * kWarps;
    const std::uint32_t s = ring_base + static_cast<std::uint32_t>((j % D) * slot.bytes);
#pragma unroll
    for (int sub = 0; sub < kSub; ++sub) {
      const std::int64_t col = std::int64_t{c} * kChunkCols + 32 * sub + 8 * t;
      const bool valid = col < p.K;
      cp_async16_to(s + slot.x + ((sub * p.M + g) * 4 + t) * 16, x + (valid ? g * p.K + col : 0),
                    valid);
    }
  };

  decode::pdl_launch_dependents();
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
    __syncwarp();  // every lane is done with slot (j - 1) % D, which the next copy refills
    if (j + D - 1 < items) {
      issue_weights(j + D - 1);
      issue_x(j + D - 1);
    }
    cp_async_commit();
    cp_async_wait<D - 1>();  // this lane's copies of chunk j have landed
    __syncwarp();            // and so have the other lanes' (scale lines, x)
    const std::uint32_t s = ring_base + static_cast<std::uint32_t>((j % D) * slot.bytes);
    uint4 q[kTiles];
#pragma unroll
    for (int i = 0; i < kTiles; ++i) q[i] = lds128(s + i * 512 + lane * 16);
    const auto sub = [&](auto sc_const) {
      constexpr int S = decltype(sc_const)::value;
      const uint4 xv = x_lane ? lds128(s + slot.x + ((S * p.M + g) * 4 + t) * 16) : uint4{};
      float2 sc[kTiles], mn[kTiles];
#pragma unroll
      for (int i = 0; i < kTiles; ++i) {
        const std::uint32_t off = (i * kSub + S) * Slot::kScaleLine + g * 4;
        sc[i] = f16x2_bits_to_float2(lds32(s + Slot::kCodes + off));
        mn[i] = asymmetric ? f16x2_bits_to_float2(lds32(s + slot.mins + off)) : float2{};
      }
      mma_sub_chunk<T, Bits, S, kTiles>(dec, q, xv, sc, mn, asymmetric, acc);
    };
    sub(std::integral_constant<int, 0>{});
    if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
  }
  cp_async_wait<0>();  // no copy may still target the ring when the block exits

#pragma unroll
  for (int i = 0; i < kTiles; ++i)
#pragma unroll
    for (int r = 0; r < 4; ++r) red[warp][i][r][lane] = acc[i][r];
  __syncthreads();
  if (warp != 0) return;
#pragma unroll
  for (int i = 0; i < kTiles; ++i)
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      float v = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) v += red[w][i][r][lane];
      acc[i][r] = v;
    }
    // acc[i][r]: row g + 8 * (r / 2) of the tile, token 2t + r % 2.
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int token = 2 * t + (r & 1);
    const std::int64_t row = tile * kQuantTileRows + g + 8 * (r >> 1);
    if (token >= p.M || row >= p.N) continue;
    const float v = Swiglu ? silu(acc[0][r]) * acc[kTiles - 1][r] : acc[0][r];
    store_out<T>(p, token * p.N + row, v);
  }
}

template <class T, int Bits, bool Swiglu, int D>
void launch_kernel(const GemvParams& p, cudaStream_t stream, bool pdl) {
  constexpr auto* kernel = &gemv_mma_async_kernel<T, Bits, Swiglu, D>;
  const SlotLayout<Bits, Swiglu ? 2 : 1> slot(p.M, p.tw.asymmetric);
  const std::size_t smem = std::size_t{kWarps} * D * slot.bytes;
  // Raised once to the largest ring any M needs (M = 8, asymmetric).
  static const bool raised = [] {
    const SlotLayout<Bits, Swiglu ? 2 : 1> largest(8, true);
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(std::size_t{kWarps} * D * largest.bytes)),
          "cudaFuncSetAttribute(gemv_mma_async_kernel)");
    return true;
  }();
  (void)raised;
  decode::launch_maybe_pdl(kernel, dim3(static_cast<unsigned>(p.tw.tiles())), dim3(kWarps * 32),
                           smem, stream, pdl, "gemv_mma_async_kernel", p);
}

template <class T>
void launch_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    const bool swiglu = p.epilogue == Epilogue::swiglu;
    // Ring depth: 8 chunks where a slot is small (M <= 2), else 4 (slots carry M x rows).
    if (p.M <= 2)
      swiglu ? launch_kernel<T, B, true, 8>(p, stream, pdl)
             : launch_kernel<T, B, false, 8>(p, stream, pdl);
    else
      swiglu ? launch_kernel<T, B, true, 4>(p, stream, pdl)
             : launch_kernel<T, B, false, 4>(p, stream, pdl);
  });
}

}  // namespace klab::cuda::gemv_impl::async

namespace klab::cuda::gemv_impl::async {
// One translation unit per activation dtype (nvcc time on 2-core CI).
extern template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);
}  // namespace klab::cuda::gemv_impl::async
