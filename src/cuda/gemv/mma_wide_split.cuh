// The wide-batch tensor-core GEMV with x shared by a block's row tiles and K split over a cluster
// (variant mma_wide_split): up to 16 tokens as two n-tiles of 8 (mma_wide's math), a block of 8
// warps owning 8 consecutive 16-row tiles (one a warp; SwiGLU: the gate and up tiles of one row
// tile a warp) over one K slice, and the K slices of the same 8 tiles spread over the CTAs of a
// cluster, whose partial sums meet once, through distributed shared memory, at the end.
//
// Why: in the batch-16 decode step (H100, Llama-2-7B Q4_0, session-14 timeline) the mma_wide
// GEMVs take 87 us a layer for 46 us of weight bytes. mma_wide's block owns one 16-row tile (three
// for QKV) over all of K and reads all of x from L2: at 16 tokens x is 3.6x a 4-bit tile's
// codes, so every byte of codes costs ~1.2-3.6 bytes of L2 reads besides. Here the block's 8
// warps share each x byte (x traffic / codes = 0.44 at 4 bits), and since a block covers only a
// slice of K, the grid still has up to 2 CTAs an SM (mma_wide_staged, session 9, kept x resident
// in one persistent block an SM and lost to too few warps and a barrier a tile).
//
// The stream: a block-wide cp.async ring of kStages stages, each two chunks of every warp's
// tiles (codes, their scale / min lines) plus the 16 x (2 chunks of columns) of x they multiply;
// one __syncthreads a stage. Each warp copies its own tiles' codes and lines, the x part is
// spread over the block. x rows sit in shared memory 4 units (64 bytes) longer than their
// data, so a quarter-warp's 16-byte loads (tokens g, g + 1) hit distinct banks. Every address a
// thread copies from or to is computed once (StageCopies), not per stage.
//
// PDL: the first kStages - 1 stages' codes and lines (weights) are requested before
// griddepcontrol.wait, x only after it; dependents are released after the main loop.
//
// Split-K: CTA `rank` of a cluster of S takes chunks [rank * slice, (rank + 1) * slice). After
// the loop every warp leaves its sums in its CTA's shared memory; after a cluster barrier warp w
// of CTA w % S adds the S slices of tile w in rank order (deterministic) and stores; a second
// barrier keeps every CTA's shared memory alive until then. S = 1 stores from registers.
//
// Outcome (H100, session 15, docs/kernels/gemv.md): instruction-bound, not L2-bound as the design
// assumed (ncu: ~142 warp instructions a 16 x 64 chunk-tile after the copies were precomputed,
// ~100 of them the decode, the mma and the per-group scaling that mma_wide pays too). Faster than
// mma_wide where K or N is long (M = 16, 4-bit: 4096 x 11008 18.0 vs 19.5 us, 32000 x 4096 35.3
// vs 47.0, SwiGLU 36.3 vs 37.4), even or behind at 12288 x 4096 and 4096 x 4096; `auto` takes it
// only at those shapes: 7B Q4_0 B=16 +2.1%, Llama-3-8B Q4_0 B=16 +21% (its 128k-row LM head).
#pragma once

#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/cluster.cuh"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/launch_attrs.hpp"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/gemv/mma_wide.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl::wide_split {

constexpr int kWarps = 8;
constexpr int kNt = 2;           // n-tiles of 8 tokens: M <= 16
constexpr int kStageChunks = 2;  // chunks of every tile a stage
constexpr int kStages = 4;       // ring depth
constexpr int kMaxSplit = 8;     // cluster CTAs (portable cluster size)

// Byte layout of one ring stage for a (Bits, SwiGLU, asymmetric) case.
template <int Bits, bool Swiglu, bool Asym>
struct StageLayout {
  static constexpr int kParts = Swiglu ? 2 : 1;  // tiles a warp
  static constexpr int kKinds = Asym ? 2 : 1;    // scale lines, min lines
  static constexpr int kChunkCols = 256 / Bits;
  static constexpr int kCols = kStageChunks * kChunkCols;  // columns of K a stage
  static constexpr int kXUnits = kCols / 8;                // 16-byte x units a token
  // A token's x row: its units plus 4 of padding, so rows m and m + 1 start 4 units (64 bytes)
  // apart modulo 128: a quarter-warp's loads (tokens g, g + 1, units t) hit distinct banks.
  static constexpr int kXRow = kXUnits + 4;
  // codes [warp][part][chunk][512], lines [warp][part][kind][4 lines][32], x [16][kXRow][16]
  static constexpr int kCodes = 0;
  static constexpr int kLines = kCodes + kWarps * kParts * kStageChunks * 512;
  static constexpr int kX = kLines + kWarps * kParts * kKinds * 4 * 32;
  static constexpr int kBytes = kX + 8 * kNt * kXRow * 16;
  static constexpr int kSlots = kParts * kNt;  // accumulator tiles a warp
  static_assert(kStages * kBytes >= kWarps * kSlots * 32 * 16, "sums reuse the ring");
  static_assert(8 * kNt * kXUnits <= kWarps * 32, "one x unit a thread a stage");
};

template <int Bits, bool Swiglu, bool Asym>
constexpr std::size_t smem_bytes() {
  return static_cast<std::size_t>(kStages) * StageLayout<Bits, Swiglu, Asym>::kBytes;
}

// What one thread copies every stage, as addresses of the CTA's first stage; stage s adds s
// stages' worth. Computed once: per-stage address arithmetic was ~160 instructions a stage in
// the first version (ncu, H100, s15 c2), as many as the stage's math.
template <class T, int Bits, bool Swiglu, bool Asym>
struct StageCopies {
  using L = StageLayout<Bits, Swiglu, Asym>;
  const std::uint8_t* codes[L::kParts];  // this lane's 16 bytes of the slice's first chunk
  int chunks = 0;                        // chunks in the slice (0: a tile past the matrix)
  std::uint32_t code_dst = 0;
  const std::uint32_t* line = nullptr;  // this lane's 16 bytes of its tile's scale / min lines
  std::int64_t line_grp0 = 0;           // column of the slice's first chunk
  int line_index = 0;                   // line of the stage this lane copies, or -1
  std::int64_t groups = 0;
  std::uint32_t line_dst = 0;
  const T* x = nullptr;  // this thread's x unit of the slice's first stage
  int x_left = 0;        // columns from that unit to K (units at or past K are zero-filled)
  bool x_row = false;    // a token row < M (others are zero-filled)
  bool x_copies = false;
  std::uint32_t x_dst = 0;

  __device__ StageCopies(const GemvParams& p, std::int64_t tile, bool live, std::int64_t c_begin,
                         std::int64_t c_end, int warp, int lane) {
    const std::int64_t all = p.tw.chunks();
#pragma unroll
    for (int part = 0; part < L::kParts; ++part) {
      const std::uint8_t* base = (Swiglu && part == 1) ? p.tw_up.codes : p.tw.codes;
      codes[part] = live ? base + ((tile * all + c_begin) * 32 + lane) * 16 : base;
    }
    chunks = live ? static_cast<int>(c_end - c_begin) : 0;
    code_dst =
        static_cast<std::uint32_t>(L::kCodes + warp * L::kParts * kStageChunks * 512 + lane * 16);
    // lane = ((part * kKinds + kind) * 4 + line) * 2 + half
    const int half = lane & 1, l = (lane >> 1) & 3, kind = (lane >> 3) % L::kKinds;
    const int part = lane / (8 * L::kKinds);
    groups = p.tw.groups_padded();
    line_grp0 = c_begin * L::kChunkCols;
    const bool copies = live && part < L::kParts && l < std::max(1, L::kCols >> p.group_shift);
    line_index = copies ? l : -1;
    const QuantTiledView& w = (Swiglu && part == 1) ? p.tw_up : p.tw;
    const std::uint32_t* src = kind == 1 ? w.mins : w.scales;
    line = copies ? src + tile * groups * 8 + half * 4 : p.tw.scales;
    line_dst = static_cast<std::uint32_t>(
        L::kLines + (((warp * L::kParts + part) * L::kKinds + kind) * 4 + l) * 32 + half * 16);
    const int i = threadIdx.x, m = i / L::kXUnits, u = i % L::kXUnits;
    x_copies = i < 8 * kNt * L::kXUnits;
    x_row = m < p.M;
    const std::int64_t col = c_begin * L::kChunkCols + 8 * u;
    x = static_cast<const T*>(p.x) + (x_copies && x_row ? m * p.K + col : 0);
    x_left = static_cast<int>(p.K - col);
    x_dst = static_cast<std::uint32_t>(L::kX + (m * L::kXRow + u) * 16);
  }

  // Stage s's codes and lines into the slot at `slot` (shared address).
  __device__ __forceinline__ void weights(int s, std::uint32_t slot, int gshift) const {
#pragma unroll
    for (int part = 0; part < L::kParts; ++part)
#pragma unroll
      for (int j = 0; j < kStageChunks; ++j) {
        const int c = s * kStageChunks + j;
        cp_async16_at(slot + code_dst + static_cast<std::uint32_t>((part * kStageChunks + j) * 512),
                      codes[part] + c * 512, c < chunks);
      }
    if (line_index >= 0) {
      const std::int64_t grp = ((line_grp0 + s * L::kCols) >> gshift) + line_index;
      const bool ok = grp < groups;
      cp_async16_at(slot + line_dst, line + (ok ? grp * 8 : 0), ok);
    }
  }

  __device__ __forceinline__ void activations(int s, std::uint32_t slot) const {
    if (!x_copies) return;
    const int off = s * L::kCols;
    const bool ok = x_row && off < x_left;
    cp_async16_at(slot + x_dst, x + (ok ? off : 0), ok);
  }
};

// Three CTAs an SM (<= 80 registers), two for SwiGLU, whose ring (~90 KiB at 4 bits) allows no
// more.
template <class T, int Bits, bool Swiglu, bool Asym>
__global__ void __launch_bounds__(kWarps * 32, Swiglu ? 2 : 3)
    gemv_mma_wide_split_kernel(GemvParams p, int slice_chunks) {
  using L = StageLayout<Bits, Swiglu, Asym>;
  constexpr int kSub = Bits == 4 ? 2 : 1;  // 32-column sub-chunks a chunk
  extern __shared__ __align__(16) std::uint8_t smem[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int split = static_cast<int>(cluster_size());
  const int rank = static_cast<int>(cluster_rank());
  const std::int64_t chunks = p.tw.chunks();
  const std::int64_t tile = std::int64_t{blockIdx.x / split} * kWarps + warp;
  const bool live = tile < p.tw.tiles();
  const std::int64_t c_begin = std::int64_t{rank} * slice_chunks;
  const std::int64_t c_end = std::min<std::int64_t>(chunks, c_begin + slice_chunks);
  const int stages =
      c_end > c_begin ? static_cast<int>((c_end - c_begin + kStageChunks - 1) / kStageChunks) : 0;
  const int gshift = p.group_shift;
  const std::uint32_t ring = smem_addr(smem);
  const auto slot = [&](int s) {
    return ring + static_cast<std::uint32_t>((s % kStages) * L::kBytes);
  };
  const StageCopies<T, Bits, Swiglu, Asym> copies(p, tile, live, c_begin, c_end, warp, lane);

  for (int s = 0; s < kStages - 1; ++s)
    if (s < stages) copies.weights(s, slot(s), gshift);
  decode::pdl_wait();  // x (and the residual read at the end) may come from the previous kernel
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < stages) copies.activations(s, slot(s));
    cp_async_commit();
  }

  // Per-lane shared offsets: codes of (part, chunk), x of token 8 n + g at unit t, the line of
  // each 32-column sub-chunk of the stage (groups of >= 32 columns).
  const std::uint32_t code_at = copies.code_dst;
  const std::uint32_t x_at = static_cast<std::uint32_t>(L::kX + (g * L::kXRow + t) * 16);
  const std::uint32_t line_at =
      static_cast<std::uint32_t>(L::kLines + warp * L::kParts * L::kKinds * 128 + g * 4);
  std::uint32_t line_of[L::kCols / 32];
#pragma unroll
  for (int k = 0; k < L::kCols / 32; ++k)
    line_of[k] = static_cast<std::uint32_t>(((32 * k) >> gshift) * 32);

  const CodeDecoder<T, Bits> dec(p.zero_point);
  float acc[L::kSlots][4] = {};
  for (int s = 0; s < stages; ++s) {
    // Committed so far: kStages - 1 + s groups; group s completes stage s.
    cp_async_wait<kStages - 2>();
    __syncthreads();  // stage s landed for every thread; every warp is done with stage s - 1
    if (s + kStages - 1 < stages) {
      const std::uint32_t next = slot(s + kStages - 1);
      copies.weights(s + kStages - 1, next, gshift);
      copies.activations(s + kStages - 1, next);
    }
    cp_async_commit();
    const std::uint32_t base = slot(s);
#pragma unroll
    for (int j = 0; j < kStageChunks; ++j) {
      uint4 q[L::kParts];
#pragma unroll
      for (int part = 0; part < L::kParts; ++part)
        q[part] =
            lds128_at(base + code_at + static_cast<std::uint32_t>((part * kStageChunks + j) * 512));
      const auto sub = [&](auto sub_const) {
        constexpr int S = decltype(sub_const)::value;
        const int unit = j * (L::kChunkCols / 8) + 4 * S;  // the sub-chunk's first x unit
        uint4 xv[kNt];
#pragma unroll
        for (int n = 0; n < kNt; ++n)
          xv[n] =
              lds128_at(base + x_at + static_cast<std::uint32_t>((8 * n * L::kXRow + unit) * 16));
        const std::uint32_t line = base + line_at + line_of[unit / 4];
        float2 sc[L::kParts], mn[L::kParts];
#pragma unroll
        for (int part = 0; part < L::kParts; ++part) {
          const std::uint32_t at = line + static_cast<std::uint32_t>(part * L::kKinds * 128);
          sc[part] = f16x2_bits_to_float2(lds32_at(at));
          mn[part] = Asym ? f16x2_bits_to_float2(lds32_at(at + 128)) : float2{};
        }
        mma_wide_sub_chunk<T, Bits, S, L::kParts, kNt>(dec, q, xv, sc, mn, Asym, acc);
      };
      sub(std::integral_constant<int, 0>{});
      if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
    }
  }
  decode::pdl_launch_dependents();
  cp_async_wait<0>();

  // Accumulator r of slot (part, n): row g + 8 (r / 2) of the tile, token 8 n + 2 t + r % 2.
  const auto store = [&](const float(&v)[L::kSlots][4]) {
#pragma unroll
    for (int n = 0; n < kNt; ++n)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int token = 8 * n + 2 * t + (r & 1);
        const std::int64_t row = tile * kQuantTileRows + g + 8 * (r >> 1);
        if (token >= p.M || row >= p.N) continue;
        const float a = v[n][r];
        store_out<T>(p, token * p.N + row, Swiglu ? silu(a) * v[kNt + n][r] : a);
      }
  };
  if (split == 1) {
    if (live) store(acc);
    return;
  }
  __syncthreads();  // every warp is done with the ring, which now holds the sums
  const std::uint32_t sums = ring + static_cast<std::uint32_t>((warp * L::kSlots * 32 + lane) * 16);
#pragma unroll
  for (int i = 0; i < L::kSlots; ++i)
    asm volatile("st.shared.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"r"(sums + i * 32 * 16),
                 "f"(acc[i][0]), "f"(acc[i][1]), "f"(acc[i][2]), "f"(acc[i][3])
                 : "memory");
  cluster_sync();
  if (live && warp % split == rank) {
    float v[L::kSlots][4] = {};
    for (int c = 0; c < split; ++c) {
      const std::uint32_t peer = cluster_map(sums, c);
#pragma unroll
      for (int i = 0; i < L::kSlots; ++i) {
        const float4 f = ld_cluster_f32x4(peer + i * 32 * 16);
        v[i][0] += f.x;
        v[i][1] += f.y;
        v[i][2] += f.z;
        v[i][3] += f.w;
      }
    }
    store(v);
  }
  // No CTA exits (releasing the sums its peers read) before every finishing warp has read them.
  cluster_arrive_relaxed();
  cluster_wait();
}

// Host side (mma_wide_split.cu): the split and the grid.
struct Shape {
  int split = 1;         // CTAs of a cluster, each a K slice
  int slice_chunks = 0;  // chunks a slice (a multiple of kStageChunks)
  unsigned blocks = 0;
};
// `forced` (1..8, else 0; KLAB_CUDA_WIDE_SPLIT): a study override, lowered until no CTA is
// left without chunks.
Shape shape_of(std::int64_t tiles, std::int64_t chunks, int sms, int forced);

template <class T, int Bits, bool Swiglu, bool Asym>
void launch_kernel(const GemvParams& p, cudaStream_t stream, bool pdl) {
  constexpr auto* kernel = &gemv_mma_wide_split_kernel<T, Bits, Swiglu, Asym>;
  constexpr std::size_t kSmem = smem_bytes<Bits, Swiglu, Asym>();
  static const bool raised = [] {  // once per kernel
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(kSmem)),
          "cudaFuncSetAttribute(gemv_mma_wide_split_kernel)");
    return true;
  }();
  (void)raised;
  const int sms = device_sm_count();
  const Shape s = shape_of(p.tw.tiles(), p.tw.chunks(), sms, env_int("KLAB_CUDA_WIDE_SPLIT"));
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(s.blocks);
  cfg.blockDim = dim3(kWarps * 32);
  cfg.dynamicSmemBytes = kSmem;
  cfg.stream = stream;
  LaunchAttrs attrs;
  attrs.pdl(pdl);
  if (s.split > 1) attrs.cluster(static_cast<unsigned>(s.split));
  attrs.apply(cfg);
  constexpr const char* what = "gemv_mma_wide_split_kernel";
  check(cudaLaunchKernelEx(&cfg, kernel, p, s.slice_chunks), what);
  check_launch(what);
}

template <class T>
void launch_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    const auto by_asym = [&](auto sw) {
      constexpr bool Sw = decltype(sw)::value;
      p.tw.asymmetric ? launch_kernel<T, B, Sw, true>(p, stream, pdl)
                      : launch_kernel<T, B, Sw, false>(p, stream, pdl);
    };
    p.epilogue == Epilogue::swiglu ? by_asym(std::true_type{}) : by_asym(std::false_type{});
  });
}

extern template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);

}  // namespace klab::cuda::gemv_impl::wide_split
