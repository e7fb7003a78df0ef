// The kernel behind `split_kv_mma_cluster_lean` (8 warps, speculative prologue as _spec) and
// `split_kv_mma_cluster_lean_s2` (4 warps, 2-stage rings): decode_cluster.cuh's cluster decode
// with about a third of the instructions per 16-key tile (SASS counts in
// docs/kernels/attention.md, decode round 6).
//
// Why: at B=1 one wave holds ~128 CTAs with 1-2 warps per scheduler, so the per-warp
// instruction chain, not DRAM, paces the stream (B=8 S=16384 reaches the copy ceiling; B=1
// S=16384 64% of it). SASS of split_kv_mma_cluster_w8 (bf16, D = 128): a contiguous tile costs
// 534 warp instructions, ~200 of them address arithmetic for the 16 cp.async per lane (4 rows x
// 2 chunk groups x K/V), each with its own 64-bit global and swizzled shared address rebuilt
// every tile, because the stage index and the 4 row offsets are runtime values.
//
// What changes (the math, the cluster merge and the prologue are decode_cluster.cuh's):
//   - a lane pair copies one key row: lane l takes row l / 2, 16-byte chunks (l % 2) + 2 j, so
//     the pair reads whole 32-byte sectors and a lane holds ONE row offset per tile (one
//     table lookup per tile for a paged cache instead of four);
//   - shared rows are padded to 2 D + 16 bytes instead of XOR-swizzled: ldmatrix's 8 row
//     addresses still hit 8 distinct 16-byte bank groups (row r starts at bank 4 r mod 32), and
//     every chunk of a row sits at a fixed offset from the row's start;
//   - the key loop is unrolled by the ring depth, so the stage is a compile-time constant: all
//     cp.async and ldmatrix addresses are one per-lane register plus an immediate offset
//     (cp_async16_imm / ldmatrix_x4_imm), and the row offset of a contiguous cache walks by one
//     64-bit addition per tile.
// Bulk copies (cp.async.bulk, one per row) were measured by SASS first and rejected: UBLKCP
// takes its addresses in uniform registers, so 32 lanes with 32 row addresses compile to a
// loop of 8 instructions per row (ELECT, 3 R2UR, 2 PLOP3, UBLKCP, BRA): ~256 per tile, the
// same as the cp.async path it would replace. TMA tensor maps would issue a tile in one
// instruction but cannot split a 16-key tile across pages (page sizes 1..15, 17, ...).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>
#include <utility>

#include "cuda/attn_decode/decode_cluster.cuh"

namespace klab::cuda::decode {

template <class T, int D, int kWarps, int kMaxStages>
struct LeanShape {
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kChunks = D / 8;       // 16-byte chunks per row
  static constexpr int kLaneChunks = D / 16;  // chunks a lane copies of its K (and V) row
  static constexpr int kPitch = static_cast<int>(sizeof(T)) * D + 16;  // bytes per shared row
  static constexpr int kTileBytes = kMmaKeys * kPitch;
  static constexpr std::size_t kQBytes = sizeof(T) * kMmaRows * D;
  static constexpr std::size_t kExportBytes = sizeof(float) * kMmaRows * (D + 2);
  static constexpr std::size_t kPagesBytes = sizeof(int) * kPageWindow;
  static constexpr std::size_t kSmemLimit = 227 * 1024;  // sm_90 dynamic shared memory per CTA
  // Rings of up to kMaxStages tiles per warp in what the fixed areas leave.
  static constexpr std::size_t kRingBudget = kSmemLimit - kQBytes - kExportBytes - kPagesBytes;
  static constexpr int kFit = static_cast<int>(kRingBudget / (kWarps * 2 * kTileBytes));
  static constexpr int kStages = kFit > kMaxStages ? kMaxStages : kFit < 1 ? 1 : kFit;
  static constexpr int kVOffset = kStages * kTileBytes;  // a warp's V stages follow its K stages
  static constexpr int kWarpBytes = 2 * kStages * kTileBytes;
  static constexpr std::size_t kPipeBytes = std::size_t{kWarps} * kWarpBytes;
  static constexpr bool kQInRegs = D <= 128;
  // finish_cta's warp merge ([warp][row][D + 4] O, then max and sum) reuses the rings.
  static constexpr std::size_t kMergeBytes = sizeof(float) * kWarps * kMmaRows * (D + 4 + 2);
  static constexpr std::size_t kQOffset = kPipeBytes > kMergeBytes ? kPipeBytes : kMergeBytes;
  static constexpr std::size_t kExportOffset = kQOffset + kQBytes;
  static constexpr std::size_t kPagesOffset = kExportOffset + kExportBytes;
  static constexpr std::size_t kSmemBytes = kPagesOffset + kPagesBytes;
  static_assert(sizeof(T) == 2 && D % 64 == 0, "f16 / bf16 rows of 64, 128 or 256");
  static_assert(kPitch % 16 == 0 && (kPitch / 4) % 32 == 4, "row r starts at bank 4 r");
  static_assert(kQOffset % 16 == 0 && kExportOffset % 16 == 0 && kPagesOffset % 16 == 0);
  static_assert(kSmemBytes <= kSmemLimit, "over the sm_90 shared memory of a CTA");
};

// f(std::integral_constant<int, 0>{}), .., f(..<N - 1>) while f returns true (f's argument is a
// compile-time constant, so it can be a template argument such as an immediate offset).
template <int N, class F>
__device__ __forceinline__ void static_for_while(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (void)(f(std::integral_constant<int, I>{}) && ...);
  }
  (std::make_integer_sequence<int, N>{});
}
template <int N, class F>
__device__ __forceinline__ void static_for(F&& f) {
  static_for_while<N>([&](auto i) {
    f(i);
    return true;
  });
}

__device__ __forceinline__ void st_shared_zero16(std::uint32_t addr) {
  asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\n" ::"r"(addr), "r"(0) : "memory");
}

// The key row one lane copies of successive warp tiles (`step` keys apart): a contiguous cache's
// element offset walks by one addition per tile; a paged cache carries the table index and the
// row within the page (one compare per tile, no division).
struct LaneRow {
  int pos = 0, step = 0;
  std::int64_t off = 0, step_off = 0;                     // contiguous
  int index = 0, row = 0, step_pages = 0, step_rows = 0;  // paged

  __device__ __forceinline__ void start(const CachedKv::Seq& s, int first_pos, int step_keys) {
    pos = first_pos;
    step = step_keys;
    if (!s.paged) {
      off = s.block * s.block_stride + std::int64_t{first_pos} * s.row_stride;
      step_off = std::int64_t{step_keys} * s.row_stride;
    } else {
      step_pages = step_keys / s.page_size;
      step_rows = step_keys % s.page_size;
      index = first_pos / s.page_size;
      row = first_pos % s.page_size;
    }
  }

  // Element offset (head 0, dim 0) of the current tile's row, -1 at or past `end` (<= the
  // rows the cache holds) or where the cache cannot address it; then moves to the next row.
  __device__ __forceinline__ std::int64_t take(const CachedKv::Seq& s, const PageWindow& w,
                                               int end) {
    std::int64_t out;
    if (!s.paged) {
      out = pos < end ? off : -1;
      off += step_off;
    } else {
      const int page = pos < end ? w.page(s.table, index) : -1;
      out = page >= 0 && page < s.num_blocks
                ? std::int64_t{page} * s.block_stride + std::int64_t{row} * s.row_stride
                : -1;
      index += step_pages;
      row += step_rows;
      if (row >= s.page_size) {
        row -= s.page_size;
        ++index;
      }
    }
    pos += step;
    return out;
  }
};

template <class T, int D, int kWarps, int kMaxStages>
__global__ void __launch_bounds__(kWarps * 32, 1) decode_cluster_lean_kernel(DecodeParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using S = LeanShape<T, D, kWarps, kMaxStages>;
  constexpr int kKSteps = D / 16;  // Q K^T reduction steps
  constexpr int kDTiles = D / 8;   // O column tiles
  extern __shared__ __align__(128) unsigned char smem[];
  pdl_launch_dependents();
  // As decode_cluster_kernel: lengths and block table before the wait when p.indices_ready.
  const bool early = p.indices_ready;
  if (!early) pdl_wait();

  const int group = p.num_q_heads / p.cache.num_kv_heads;
  const int tiles_per_group = (group + kMmaRows - 1) / kMmaRows;
  const int hkv = blockIdx.y / tiles_per_group;
  const int h0 = hkv * group + (blockIdx.y % tiles_per_group) * kMmaRows;
  const int group_end = hkv * group + group;
  const int n_heads = group_end - h0 < kMmaRows ? group_end - h0 : kMmaRows;
  const int b = blockIdx.z;
  const int split = blockIdx.x;  // == the CTA's rank in its (n, 1, 1) cluster
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  const CachedKv::Seq seq = CachedKv{p.cache, p.kv_lens}.seq(b);
  QRows<T, D, S::kThreads> qrows;
  if (!early) qrows.load(p, b, h0, n_heads);
  int* s_pages = reinterpret_cast<int*>(smem + S::kPagesOffset);
  const int guess_first =
      seq.paged ? static_cast<int>(std::int64_t{split} * p.chunk / seq.page_size) : 0;
  const int guess_pages = seq.paged && p.chunk > 0 ? window_pages(p.chunk, seq.page_size) : 0;
  if (seq.paged)
    stage_window<S::kThreads>(s_pages, seq.table, guess_first, guess_pages,
                              p.cache.max_blocks_per_seq);

  const int max_len = seq.max_len < 0x7fffffff ? static_cast<int>(seq.max_len) : 0x7fffffff;
  T* sq = reinterpret_cast<T*>(smem + S::kQOffset);
  // Per lane, once: its copy slot (row lane / 2, chunk lane % 2) in stage 0 of its warp's K ring
  // (V: + kVOffset), the source of that chunk in head hkv's row 0, and the ldmatrix row
  // addresses of Q K^T (K, non-transposed) and P V (V, transposed). Stages and chunks are
  // immediates on top.
  const int crow = lane / 2;
  const std::uint32_t ring = smem_addr(smem) + static_cast<std::uint32_t>(warp * S::kWarpBytes);
  const std::uint32_t copy_dst = ring + crow * S::kPitch + (lane % 2) * 16;
  const std::uint32_t k_ld =
      ring + (lane % 8 + (lane / 16) * 8) * S::kPitch + ((lane / 8) % 2) * 16;
  const std::uint32_t v_ld =
      ring + S::kVOffset + (lane % 8 + ((lane / 8) % 2) * 8) * S::kPitch + (lane / 16) * 16;
  const char* k_src =
      reinterpret_cast<const char*>(static_cast<const T*>(p.cache.k) + hkv * p.cache.head_stride) +
      (lane % 2) * 16;
  const char* v_src =
      reinterpret_cast<const char*>(static_cast<const T*>(p.cache.v) + hkv * p.cache.head_stride) +
      (lane % 2) * 16;

  // This CTA's key range [begin, end) and this warp's tiles of it; warp tile i covers keys
  // key0(i) .. +15, of which this lane copies half of row crow.
  int begin = 0, end = 0, my_tiles = 0;
  PageWindow window;
  LaneRow cursor;
  auto key0 = [&](int i) { return begin + (warp + i * kWarps) * kMmaKeys; };
  auto set_range = [&](int first, int last) {
    begin = first;
    end = last;
    const int block_tiles = (end - begin + kMmaKeys - 1) / kMmaKeys;
    my_tiles = block_tiles > warp ? (block_tiles - warp + kWarps - 1) / kWarps : 0;
    cursor.start(seq, key0(0) + crow, kWarps * kMmaKeys);
  };
  // Called for tiles 0, 1, 2, ... in order after set_range; the rows of tiles past my_tiles
  // lie at or past `end` (<= max_len), so they come out -1 by themselves.
  auto row_of = [&] { return cursor.take(seq, window, end); };
  // Tile rows at element offset `off` (-1: zero-filled) into stage kStage.
  auto load = [&](auto stage, std::int64_t off) {
    constexpr int kStage = decltype(stage)::value;
    const bool valid = off >= 0;
    const std::int64_t at = off * static_cast<std::int64_t>(sizeof(T));  // unread when invalid
    const char* ks = k_src + at;
    const char* vs = v_src + at;
    static_for<S::kLaneChunks>([&](auto j) {
      constexpr int kChunk = decltype(j)::value * 32;
      cp_async16_imm<kStage * S::kTileBytes + kChunk, kChunk>(copy_dst, ks, valid);
      cp_async16_imm<S::kVOffset + kStage * S::kTileBytes + kChunk, kChunk>(copy_dst, vs, valid);
    });
  };
  // The first kStages - 1 tiles go out before anything waits on them; `ahead`: the row of the
  // tile after them.
  std::int64_t ahead = -1;
  auto issue_prologue = [&] {
    static_for<S::kStages - 1>([&](auto s) {
      constexpr int kS = decltype(s)::value;
      const std::int64_t off = row_of();
      if (kS < my_tiles) load(s, off);
      cp_async_commit();
    });
    ahead = row_of();
  };

  // Speculative (contiguous, lengths not known early): as decode_cluster_kernel, but the rows
  // past the length are dealt with once, below, not in the key loop.
  const bool spec = p.speculate && !early && !seq.paged && p.chunk > 0;
  if (spec) {
    const std::int64_t guess_begin = std::int64_t{split} * p.chunk;
    const int gb = guess_begin < max_len ? static_cast<int>(guess_begin) : max_len;
    const std::int64_t guess_end = std::int64_t{gb} + p.chunk;
    set_range(gb, guess_end < max_len ? static_cast<int>(guess_end) : max_len);
    issue_prologue();
  }

  const int len = seq.len < 0 ? 0 : seq.len < max_len ? seq.len : max_len;
  const SeqSplit cut = cluster_split(len, static_cast<int>(gridDim.x));
  const bool direct = cut.count <= 1;
  if (direct && split > 0) {
    if (spec) cp_async_wait<0>();  // no copy lands in released shared memory
    return;
  }
  const int first = split * cut.chunk < len ? split * cut.chunk : len;  // past count: empty
  const int last = len < first + cut.chunk ? len : first + cut.chunk;
  if (spec && cut.chunk == p.chunk && first == begin) {
    // The guess holds: the actual range is a prefix of the issued one. Of this lane's rows only
    // the prologue's (tiles 0 .. kStages - 2, issued) and `ahead` (tile kStages - 1) can lie past
    // the length: the prologue's V rows are zeroed once landed (K rows are masked), `ahead` is
    // dropped (zero-filled when issued); later tiles see the new end.
    const int block_tiles = (last - first + kMmaKeys - 1) / kMmaKeys;
    end = last;
    my_tiles = block_tiles > warp ? (block_tiles - warp + kWarps - 1) / kWarps : 0;
    if constexpr (S::kStages > 1) {
      if (key0(S::kStages - 2) + crow >= end) {
        cp_async_wait<0>();
        static_for<S::kStages - 1>([&](auto st) {
          constexpr int kS = decltype(st)::value;
          if (key0(kS) + crow < end) return;
          static_for<S::kLaneChunks>([&](auto j) {
            st_shared_zero16(copy_dst + S::kVOffset + kS * S::kTileBytes + decltype(j)::value * 32);
          });
        });
      }
    }
    if (key0(S::kStages - 1) + crow >= end) ahead = -1;
  } else {
    if (spec) {
      cp_async_wait<0>();  // the stages are refilled below
      __syncwarp();
    }
    if (seq.paged) {
      if (last > first) {
        window.s_pages = s_pages;
        window.first = first / seq.page_size;
        const int pages = (last - 1) / seq.page_size - window.first + 1;
        window.staged = pages <= kPageWindow;
        if (window.staged && (window.first != guess_first || pages > guess_pages)) {
          __syncthreads();
          stage_window<S::kThreads>(s_pages, seq.table, window.first, pages,
                                    p.cache.max_blocks_per_seq);
        }
      }
      __syncthreads();  // the window is visible to every warp
    }
    if (early) pdl_wait();
    set_range(first, last);
    issue_prologue();
  }
  if (early) qrows.load(p, b, h0, n_heads);

  qrows.store(sq);
  __syncthreads();
  auto load_q = [&](std::uint32_t(&f)[4], int kk) {
    ldmatrix_x4(f, sq + swizzled_chunk<S::kChunks>(lane % 16, kk * 2 + lane / 16) * 8);
  };
  std::uint32_t qf[S::kQInRegs ? kKSteps : 1][4];
  if constexpr (S::kQInRegs)
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) load_q(qf[kk], kk);

  float o[kDTiles][4];
#pragma unroll
  for (int nt = 0; nt < kDTiles; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[nt][e] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
  const float sl = p.scale * kMmaLog2e;

  // Tile i, held in stage kS (= i % kStages): refill the stage tile i - 1 used with tile
  // i + kStages - 1, wait for tile i, S = Q K^T, online softmax, O += P V.
  auto tile = [&](auto stage, int i) {
    constexpr int kS = decltype(stage)::value;
    const int next = i + S::kStages - 1;
    if (next < my_tiles)
      load(std::integral_constant<int, (kS + S::kStages - 1) % S::kStages>{}, ahead);
    cp_async_commit();
    ahead = row_of();
    cp_async_wait<S::kStages - 1>();
    const int k0 = key0(i);
    __syncwarp();  // every lane's copies of tile i are visible to the whole warp
    float s[2][4] = {};
    static_for<kKSteps>([&](auto kk) {
      constexpr int kK = decltype(kk)::value;
      std::uint32_t r[4];
      ldmatrix_x4_imm<kS * S::kTileBytes + kK * 32>(r, k_ld);
      const std::uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
      std::uint32_t(&q)[4] = qf[S::kQInRegs ? kK : 0];
      if constexpr (!S::kQInRegs) load_q(q, kK);
      mma_m16n8k16<T>(s[0], q, b0);
      mma_m16n8k16<T>(s[1], q, b1);
    });
    std::uint32_t a[4];
    softmax_tile<T, kDTiles>(s, k0, end, sl, lane, row_max, row_sum, o, a);
    static_for<kDTiles / 2>([&](auto dp) {
      constexpr int kD = decltype(dp)::value;
      std::uint32_t r[4];
      ldmatrix_x4_trans_imm<kS * S::kTileBytes + kD * 32>(r, v_ld);
      const std::uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
      mma_m16n8k16<T>(o[2 * kD], a, b0);
      mma_m16n8k16<T>(o[2 * kD + 1], a, b1);
    });
    __syncwarp();  // every lane is done with stage kS before the next tile refills it
  };
  for (int i0 = 0; i0 < my_tiles; i0 += S::kStages)
    static_for_while<S::kStages>([&](auto s) {
      constexpr int kS = decltype(s)::value;
      if (i0 + kS >= my_tiles) return false;
      tile(s, i0 + kS);
      return true;
    });
  cp_async_wait<0>();
  __syncthreads();  // the warp merge reuses every warp's ring
  finish_cta<T, D, kWarps>(p, smem, S::kExportOffset, o, row_max, row_sum, b, h0, n_heads, direct,
                           cut.count);
#else
  (void)p;
#endif
}

template <class T, int D, int kWarps, int kMaxStages>
struct LeanClusterKernel {
  using Shape = LeanShape<T, D, kWarps, kMaxStages>;
  static constexpr int kThreads = Shape::kThreads;
  static constexpr std::size_t kSmemBytes = Shape::kSmemBytes;
  static auto kernel() { return decode_cluster_lean_kernel<T, D, kWarps, kMaxStages>; }
};

// Explicitly instantiated per dtype and CTA shape in decode_cluster_lean[_s2]_<dtype>.cu.
template <class T, int kWarps, int kMaxStages>
int decode_cluster_lean_size_typed(const DecodeParams& p) {
  return cluster_size_for<LeanClusterKernel, T, kWarps, kMaxStages>(p);
}

template <class T, int kWarps, int kMaxStages>
void launch_decode_cluster_lean_typed(const DecodeParams& p, cudaStream_t stream) {
  launch_cluster_for<LeanClusterKernel, T, kWarps, kMaxStages>(p, stream);
}

}  // namespace klab::cuda::decode
