// The wide-batch tensor-core GEMV with x staged once per block (variant mma_wide_staged): up to
// 16 tokens as two n-tiles of 8 (mma_wide's math), x [M][K] copied into shared memory once, and
// each block a persistent worker over a run of consecutive 16-row tiles whose codes and scale
// lines stream through a per-warp cp.async ring that runs on across tile boundaries. SwiGLU
// runs each row tile as two tiles in the ring, gate then up; the warp that stores the tile keeps
// the gate sums in registers until the up sums are in.
//
// Why: in the batch-16 decode step (H100, Llama-2-7B Q4_0, session-8 timeline) mma_wide runs at
// 35-56% of its weight bytes: every 16-row tile's block reads all of x from L2 (at 16 tokens,
// 4x the 4-bit codes: 88 MB of L2 reads for the 50 MB gate/up pair), and its register-held code
// loads keep ~24 KiB in flight per SM. Here x is read once per block (one block per SM: about
// 132 x 128 KiB for K = 4096, against tiles x 128 KiB), and the ring keeps (D - 1) chunks a warp
// in flight, ~30-60 KiB per SM.
//
// Warp w only ever reads chunks w, w + W, ... of any tile, so it stages only those columns of x
// (no block barrier before the main loop), and the tile's partial sums are the only block-wide
// exchange: every warp writes its sums and arrives at a named barrier; the warps that store
// (one per n-tile) wait there, and everyone meets once more before the next tile's sums.
//
// Shared memory: x [M][cols_padded + 32 halves] (the row pad keeps a quarter-warp's 16-byte x
// loads on distinct banks), then the rings [warp][D][stage]; a stage is the chunk's codes (512
// bytes) and its scale (and min) lines (64 bytes each: the one or two 32-byte group lines the
// chunk's columns fall in). 16 warps where each has at least 3 chunks a tile, else 8; the ring 8
// deep, 4 with mins at 16 warps. x up to ~150 KiB a block (M = 16: K up to ~4.6k); larger x is
// split into K slices (below), up to 4; beyond that the case is left to mma_wide.
//
// Why 16 warps and one tile an item (measured, session 9, H100, c1/c2): the first version (8
// warps, gate and up in one item, a block barrier pair per tile) ran 12288 x 4096 at M = 16 in
// 26.2 us against mma_wide's 17.6: ncu showed 2 warps a scheduler, 0.42 instructions a cycle a
// scheduler, 51% of cycles with no eligible warp, and ~40 of the ~160 instructions an item in
// the ring cursor's division.
//
// K slices: where x does not fit (Llama-2-7B's down projection, K = 11008: 352 KiB at M = 16),
// a cluster of C CTAs shares each run of tiles, CTA r taking the r-th slice of the chunks (and
// staging only that slice of x). Every CTA writes its tile sums to its own shared memory; after
// a cluster barrier CTA 0's storing warps add the C slices in rank order (deterministic) and
// store. Buffers alternate by tile, and each thread waits on the previous tile's barrier before
// it overwrites a buffer, so one cluster barrier a tile suffices; CTA 0's storing warps wait at
// once, the others a tile later (by then long satisfied).
//
// PDL: the first D - 1 chunks (codes and scales) are requested before griddepcontrol.wait, x
// after it; dependents are released after the block's last main loop.
//
// Outcome (H100, session 9, calls c3-c5; docs/kernels/gemv.md): slower than mma_wide wherever
// the decode step uses it (M = 16, 4-bit: 12288 x 4096 19.3 vs 17.6-21.6 us in a noisy call,
// 11008 x 4096 SwiGLU 40.9 vs 37.4, 4096 x 11008 in 3 K slices 36.5 vs 23.8; Llama-2-7B Q4_0
// B = 16 3,107 vs 3,466 tok/s with it for SwiGLU and down). One 16-warp block an SM with x
// resident issues fewer independent loads than mma_wide's 2-3 blocks an SM, and the per-tile
// exchange (named barriers; the cluster barrier with K slices) stalls a block every 4-8 items.
// Kept as a variant for the bench; `auto` does not pick it.
#pragma once

#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/cluster.cuh"
#include "cuda/common/launch_attrs.hpp"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/gemv/mma_wide.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl::wide_staged {

constexpr int kNt = 2;  // n-tiles of 8 tokens: M <= 16
constexpr int kXPadHalves = 32;
constexpr std::size_t kBlockSmem = 227 * 1024;  // sm_90: dynamic + static a block
constexpr int kMaxSlices = 4;                   // K slices: CTAs of a cluster

// Ring depth: 8, or 4 where 16 warps carry mins (the 8-deep ring would not fit beside x).
constexpr int ring_depth(int warps, bool asym) {
  return warps == 16 && asym ? 4 : 8;
}

// Bytes of one ring stage: the chunk's codes, then up to two 32-byte group lines of scales (and
// as many of mins).
constexpr int stage_bytes(bool asym) {
  return 512 + (asym ? 2 : 1) * 64;
}

constexpr std::size_t x_bytes(int M, std::int64_t cols_padded) {
  return static_cast<std::size_t>(M) * static_cast<std::size_t>(cols_padded + kXPadHalves) * 2;
}

// The static shared memory of a W-warp block: the warp sums and the two K-slice sum buffers.
constexpr std::size_t static_bytes(int warps) {
  return static_cast<std::size_t>(warps + 2) * kNt * 4 * 32 * sizeof(float);
}

// Named barriers (0 is __syncthreads): `sync` waits until `threads` have arrived, `arrive` counts
// this warp in without waiting; both order the shared-memory writes before them.
__device__ __forceinline__ void named_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Chunks [begin, begin + count) of every tile: CTA `rank` of `slices` (ceil-divided).
struct ChunkSlice {
  int begin, count;
  __device__ ChunkSlice(int chunks, int slices, int rank) {
    const int per = (chunks + slices - 1) / slices;
    begin = min(chunks, rank * per);
    count = min(chunks, begin + per) - begin;
  }
};

template <class T, int Bits, bool Swiglu, bool Asym, int W>
__global__ void __launch_bounds__(W * 32, 1)
    gemv_mma_wide_staged_kernel(GemvParams p, int tiles_per_block) {
  constexpr int D = ring_depth(W, Asym);
  constexpr int kParts = Swiglu ? 2 : 1;  // ring tiles a row tile: gate, then up
  constexpr int kSub = Bits == 4 ? 2 : 1;
  constexpr int kChunkCols = 256 / Bits;
  constexpr int kStage = stage_bytes(Asym);
  constexpr int kThreads = W * 32;
  extern __shared__ __align__(16) std::uint8_t smem[];
  __shared__ float red[W][kNt][4][32];
  __shared__ float slice_sums[2][kNt][4][32];  // this CTA's tile sums, for CTA 0 (K slices)
  static_assert(sizeof(red) + sizeof(slice_sums) == static_bytes(W), "host smem budget");

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int slices = static_cast<int>(cluster_size());
  const int rank = static_cast<int>(cluster_rank());
  const int chunks = static_cast<int>(p.tw.chunks());
  const ChunkSlice slice(chunks, slices, rank);
  const int x_cols = ((chunks + slices - 1) / slices) * kChunkCols;  // staged columns
  const int row_halves = x_cols + kXPadHalves;
  const int groups = static_cast<int>(p.tw.groups_padded());
  const int gshift = p.group_shift;
  const int K = static_cast<int>(p.K);
  const std::int64_t first_tile = std::int64_t{blockIdx.x / slices} * tiles_per_block;
  const int block_tiles = static_cast<int>(std::max<std::int64_t>(
      0, std::min<std::int64_t>(tiles_per_block, p.tw.tiles() - first_tile)));
  const int per_tile = slice.count > warp ? (slice.count - warp + W - 1) / W : 0;
  const int ring_tiles = block_tiles * kParts;
  const int items = per_tile * ring_tiles;

  const std::uint32_t x_s = smem_addr(smem);
  const std::uint32_t ring_s = x_s + static_cast<std::uint32_t>(x_bytes(p.M, x_cols)) +
                               static_cast<std::uint32_t>(warp * D * kStage);
  // Lines of 32 bytes a chunk's columns touch in each scale array (1, or 2 for 64 columns in
  // groups of 32); their 16-byte halves are copied by lanes 0..7: lane = 4 kind + unit.
  const int lines = std::max(1, kChunkCols >> gshift);
  const int s_unit = lane & 3, s_kind = lane >> 2;
  const bool s_copies = s_unit < 2 * lines && (s_kind == 0 || (Asym && s_kind == 1));
  const std::uint32_t s_dst = static_cast<std::uint32_t>(512 + s_kind * 64 + s_unit * 16);

  // The ring's write cursor: ring tile `ct`, its item `ce`.
  int ct = 0, ce = 0;
  const auto issue = [&](int slot) {
    const bool up = Swiglu && (ct & 1);
    const std::int64_t tile = first_tile + (Swiglu ? ct >> 1 : ct);
    const int chunk = slice.begin + warp + ce * W;
    const std::uint32_t s = ring_s + static_cast<std::uint32_t>(slot * kStage);
    const std::uint8_t* codes = up ? p.tw_up.codes : p.tw.codes;
    cp_async16_at(s + lane * 16, codes + ((tile * chunks + chunk) * 32 + lane) * 16, true);
    if (s_copies) {
      const std::uint32_t* lines_src =
          s_kind == 1 ? (up ? p.tw_up.mins : p.tw.mins) : (up ? p.tw_up.scales : p.tw.scales);
      const std::int64_t gf = (std::int64_t{chunk} * kChunkCols) >> gshift;
      cp_async16_at(s + s_dst, lines_src + (tile * groups + gf) * 8 + s_unit * 4, true);
    }
    if (++ce == per_tile) {
      ce = 0;
      ++ct;
    }
  };

  for (int j = 0; j < D - 1; ++j) {
    if (j < items) issue(j);
    cp_async_commit();
  }
  decode::pdl_wait();  // x (and the residual read at the end) may come from the previous kernel
  {
    // This warp's columns of x: chunk begin + warp + e W of every token, 16-byte units, at
    // slice-relative columns.
    constexpr int kUnits = kChunkCols / 8;
    const T* x = static_cast<const T*>(p.x);
    const int n = per_tile * p.M * kUnits;
    for (int u = lane; u < n; u += 32) {
      const int e = u / (p.M * kUnits), rest = u - e * (p.M * kUnits);
      const int m = rest / kUnits;
      const int rel = (warp + e * W) * kChunkCols + (rest - m * kUnits) * 8;
      const int c = slice.begin * kChunkCols + rel;
      const bool in_k = c < K;  // the padded tail is zero
      cp_async16_at(x_s + static_cast<std::uint32_t>((m * row_halves + rel) * 2),
                    x + (in_k ? std::int64_t{m} * K + c : 0), in_k);
    }
  }
  cp_async_commit();
  cp_async_wait<0>();
  __syncwarp();

  // Lane (g, t) supplies token 8 n + g of n-tile n; tokens past M read token 0 (their mma
  // columns are never stored).
  std::uint32_t x_lane_s[kNt];
#pragma unroll
  for (int n = 0; n < kNt; ++n) {
    const int token = 8 * n + g < p.M ? 8 * n + g : 0;
    x_lane_s[n] = x_s + static_cast<std::uint32_t>((token * row_halves + 8 * t) * 2);
  }
  const CodeDecoder<T, Bits> dec(p.zero_point);
  const bool storer = warp < kNt && rank == 0;
  bool cluster_pending = false;  // arrived at a cluster barrier not yet waited on
  float acc[kNt][4] = {};
  float gate[4] = {};  // SwiGLU: the storing warp's gate sums of the current row tile
  int j = 0;
  for (int rt = 0; rt < ring_tiles; ++rt) {
    for (int e = 0; e < per_tile; ++e, ++j) {
      // Groups committed after the prologue: j; item j's group is complete at D - 2 pending.
      cp_async_wait<D - 2>();
      __syncwarp();  // every lane's item j has landed; every lane is done with item j - 1
      if (j + D - 1 < items) issue((j + D - 1) & (D - 1));
      cp_async_commit();
      const std::uint32_t s = ring_s + static_cast<std::uint32_t>((j & (D - 1)) * kStage);
      const uint4 q[1] = {lds128_at(s + lane * 16)};
      const int rel0 = (warp + e * W) * kChunkCols;
      const int col0 = slice.begin * kChunkCols + rel0;
      const int gf = col0 >> gshift;
      const auto sub = [&](auto sub_const) {
        constexpr int S = decltype(sub_const)::value;
        uint4 xv[kNt];
#pragma unroll
        for (int n = 0; n < kNt; ++n) xv[n] = lds128_at(x_lane_s[n] + (rel0 + 32 * S) * 2);
        const std::uint32_t line =
            s + 512 + static_cast<std::uint32_t>((((col0 + 32 * S) >> gshift) - gf) * 32 + g * 4);
        const float2 sc[1] = {f16x2_bits_to_float2(lds32_at(line))};
        const float2 mn[1] = {Asym ? f16x2_bits_to_float2(lds32_at(line + 64)) : float2{}};
        mma_wide_sub_chunk<T, Bits, S, 1, kNt>(dec, q, xv, sc, mn, Asym, acc);
      };
      sub(std::integral_constant<int, 0>{});
      if constexpr (kSub == 2) sub(std::integral_constant<int, 1>{});
    }
    if (rt + 1 == ring_tiles) decode::pdl_launch_dependents();

    // The tile's warp sums in a fixed order (deterministic). Barrier 2: the previous tile's
    // readers are done with `red`; barrier 1: every warp's sums are in (the readers wait).
    if (rt > 0) named_sync(2, kThreads);
#pragma unroll
    for (int n = 0; n < kNt; ++n)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        red[warp][n][r][lane] = acc[n][r];
        acc[n][r] = 0.0f;
      }
    float v[4] = {};
    if (warp >= kNt) {
      named_arrive(1, kThreads);
    } else {
      named_sync(1, kThreads);
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int w = 0; w < W; ++w) v[r] += red[w][warp][r][lane];
    }
    if (slices > 1) {
      // Buffer rt % 2 was last read by CTA 0 before it arrived at the previous tile's barrier.
      if (cluster_pending) cluster_wait();
      if (warp < kNt)
#pragma unroll
        for (int r = 0; r < 4; ++r) slice_sums[rt & 1][warp][r][lane] = v[r];
      cluster_arrive();
      cluster_pending = true;
      if (storer) {
        cluster_wait();
        cluster_pending = false;
        const std::uint32_t mine = smem_addr(&slice_sums[rt & 1][warp][0][lane]);
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          float sum = 0.0f;
          for (int c = 0; c < slices; ++c) sum += ld_cluster_f32(cluster_map(mine + r * 128, c));
          v[r] = sum;
        }
      }
    }
    if (!storer) continue;
    const int n = warp;
    const bool up = Swiglu && (rt & 1);
    const std::int64_t tile = first_tile + (Swiglu ? rt >> 1 : rt);
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      if (Swiglu && !up) {
        gate[r] = v[r];
        continue;
      }
      // Accumulator r: row g + 8 (r / 2) of the tile, token 8 n + 2 t + r % 2.
      const int token = 8 * n + 2 * t + (r & 1);
      const std::int64_t row = tile * kQuantTileRows + g + 8 * (r >> 1);
      if (token >= p.M || row >= p.N) continue;
      store_out<T>(p, token * p.N + row, Swiglu ? silu(gate[r]) * v[r] : v[r]);
    }
  }
  if (ring_tiles <= 0) decode::pdl_launch_dependents();
  cp_async_wait<0>();
  if (slices > 1) {
    // No CTA exits (releasing the sums CTA 0 reads) before CTA 0 has read the last tile's.
    if (cluster_pending) cluster_wait();
    cluster_sync();
  }
}

// Host side (mma_wide_staged.cu): the launch shape, smem == 0 where the case does not fit.
struct Shape {
  int warps = 16;
  int slices = 1;           // CTAs of a cluster splitting K
  int tiles_per_block = 1;  // a cluster's run of tiles
  int blocks = 0;
  std::size_t smem = 0;
};
Shape shape_of(const GemvParams& p);
// Fills tiles_per_block and blocks for `tiles` row tiles: one CTA an SM, at most the clusters
// of `slices` CTAs that can be resident at once (`max_clusters`, from the device).
void set_grid(Shape& s, std::int64_t tiles, int max_clusters);

template <class T, int Bits, bool Swiglu, bool Asym, int W>
void launch_kernel(const GemvParams& p, Shape s, cudaStream_t stream, bool pdl) {
  constexpr auto* kernel = &gemv_mma_wide_staged_kernel<T, Bits, Swiglu, Asym, W>;
  static const bool raised = [] {  // once: the most any call may ask for
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(kBlockSmem - static_bytes(W))),
          "cudaFuncSetAttribute(gemv_mma_wide_staged_kernel)");
    return true;
  }();
  (void)raised;
  cudaLaunchConfig_t cfg = {};
  cfg.blockDim = dim3(W * 32);
  cfg.dynamicSmemBytes = s.smem;
  cfg.stream = stream;
  LaunchAttrs attrs;
  attrs.pdl(pdl);
  if (s.slices > 1) attrs.cluster(static_cast<unsigned>(s.slices));
  attrs.apply(cfg);
  int max_clusters = 0;
  if (s.slices > 1) {
    cfg.gridDim = dim3(static_cast<unsigned>(s.slices));
    check(cudaOccupancyMaxActiveClusters(&max_clusters, kernel, &cfg),
          "cudaOccupancyMaxActiveClusters(gemv_mma_wide_staged_kernel)");
    if (max_clusters < 1) fail("gemv mma_wide_staged: no cluster of its K slices fits an SM set");
  }
  set_grid(s, p.tw.tiles(), max_clusters);
  cfg.gridDim = dim3(static_cast<unsigned>(s.blocks));
  constexpr const char* what = "gemv_mma_wide_staged_kernel";
  check(cudaLaunchKernelEx(&cfg, kernel, p, s.tiles_per_block), what);
  check_launch(what);
}

template <class T>
void launch_act(const GemvParams& p, cudaStream_t stream, bool pdl) {
  const Shape s = shape_of(p);
  dispatch_bits(p.tw.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    const auto by_warps = [&](auto sw, auto asym) {
      constexpr bool Sw = decltype(sw)::value, As = decltype(asym)::value;
      s.warps == 16 ? launch_kernel<T, B, Sw, As, 16>(p, s, stream, pdl)
                    : launch_kernel<T, B, Sw, As, 8>(p, s, stream, pdl);
    };
    const auto by_asym = [&](auto sw) {
      p.tw.asymmetric ? by_warps(sw, std::true_type{}) : by_warps(sw, std::false_type{});
    };
    p.epilogue == Epilogue::swiglu ? by_asym(std::true_type{}) : by_asym(std::false_type{});
  });
}

extern template void launch_act<__half>(const GemvParams&, cudaStream_t, bool);
extern template void launch_act<__nv_bfloat16>(const GemvParams&, cudaStream_t, bool);

}  // namespace klab::cuda::gemv_impl::wide_staged
