// The tensor-core kernel behind the `tiled_mma` and `split_kv_mma[_pdl]` decode variants.
//
// Why: the scalar tile kernel spends ~700 instructions per thread per 32-key tile (f32 dot
// products, 4-level shuffle reductions, softmax repeated on every lane of a row), so with a
// wave of 1-2 blocks per SM it cannot issue fast enough to keep HBM busy. Here the query heads
// of a GQA group are the M = 16 rows of mma.sync m16n8k16 (rows past the group are zero and
// never written): a 16-key tile costs D/8 MMAs for Q K^T and D/8 for P V, ~200 warp
// instructions for 8 KiB of K/V at D = 128, so the kernel is bound by memory alone.
//
// A block of 4 warps serves one (sequence, KV head, <= 16 query heads of its group, split).
// Warp w owns the 16-key tiles w, w + 4, ... of the block's key range and streams them through
// its own kStages-deep cp.async ring (K and V, rows XOR-swizzled in 16-byte chunks for
// conflict-free ldmatrix), so the key loop has no block barrier: only __syncwarp. Each lane
// copies 4 rows of a tile (8 lanes per 128 bytes), so a paged cache costs 4 block-table
// lookups per lane per tile, and those are computed one tile ahead of their copies (the table
// load overlaps the wait instead of delaying the copy). Per tile:
//   S = Q K^T        Q fragments in registers (loaded once), K via ldmatrix, f32 accumulators
//   online softmax   S scaled by scale * log2 e; row max / sum over the 4 lanes of a row
//   O += P V         P re-packed from the S accumulators into the A fragment, V via
//                    ldmatrix.trans
// The 4 warp states (max, sum, O rows of the group) merge once through shared memory; the
// block then writes `out` (one split) or a normalised partial + log2-sum-exp for the combine.
//
// kFused (split_kv_mma_fused): rows are addressed through page_window.cuh (block-table window
// staged in shared memory, no divisions in the loop) and the last CTA of each (sequence, head
// tile) merges the partials itself (combine_fused.cuh) instead of a combine kernel.
#pragma once

#include <cstdint>

#include "cuda/attn_decode/combine_fused.cuh"
#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/attn_decode/fused_cut.cuh"
#include "cuda/attn_decode/page_window.cuh"
#include "cuda/attn_decode/pdl.cuh"
#include "cuda/common/attn_kv.cuh"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/mma.cuh"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/common/vec.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda::decode {

constexpr int kMmaWarps = 4;
constexpr int kMmaThreads = kMmaWarps * 32;
constexpr int kMmaKeys = 16;  // keys per warp tile (two n-tiles of Q K^T, one k-step of P V)
constexpr float kMmaLog2e = 1.4426950408889634f;

template <class T, int D>
struct MmaShape {
  static constexpr int kChunks = D / 8;  // 16-byte chunks per row
  // Deep enough that ~2 resident blocks per SM keep >= 64 KiB of copies in flight (D = 128).
  static constexpr int kStages = D >= 256 ? 2 : D >= 128 ? 3 : 4;
  static constexpr int kTileElems = kMmaKeys * D;              // one K (or V) warp tile
  static constexpr int kWarpElems = 2 * kStages * kTileElems;  // a warp's K stages, V stages
  static constexpr int kRowsPerLane = kMmaKeys / 4;            // lanes 8r..8r+7 copy row r, +4..
  static constexpr int kChunkGroups = kChunks / 8;             // 8-chunk groups per row
  static constexpr bool kQInRegs = D <= 128;
  static constexpr std::size_t kPipeBytes = sizeof(T) * kMmaWarps * kWarpElems;
  // Merge: O rows [warp][row][kMergeStride] (padded against bank conflicts), then max and sum
  // [warp][row]. Reuses the pipeline's memory once every warp is done with it.
  static constexpr int kMergeStride = D + 4;
  static constexpr std::size_t kMergeBytes =
      sizeof(float) * kMmaWarps * kMmaRows * (kMergeStride + 2);
  static constexpr std::size_t kQOffset = kPipeBytes > kMergeBytes ? kPipeBytes : kMergeBytes;
  static constexpr std::size_t kSmemBytes = kQOffset + sizeof(T) * kMmaRows * D;
  // kFused: the block-table window after Q.
  static constexpr std::size_t kPagesOffset = kSmemBytes;
  static constexpr std::size_t kFusedSmemBytes = kPagesOffset + sizeof(int) * kPageWindow;
  static_assert(sizeof(T) == 2 && D % 64 == 0, "f16 / bf16 rows of 64, 128 or 256");
  static_assert(kQOffset % 16 == 0 && kMergeStride % 4 == 0);
  static_assert(kMergeBytes >= sizeof(float) * (512 / D) * (D + 2), "combine_partials scratch");
};

template <class T, int D, bool kFused>
constexpr std::size_t mma_smem_bytes() {
  return kFused ? MmaShape<T, D>::kFusedSmemBytes : MmaShape<T, D>::kSmemBytes;
}

// Element offsets (head 0, dim 0) of the kRowsPerLane rows this lane copies for a warp tile,
// or -1 for rows outside [.., end) or not addressable (zero-filled).
template <class T, int D>
struct TileRows {
  std::int64_t off[MmaShape<T, D>::kRowsPerLane];
};

// This lane's ring copies of a warp's K and V tiles: row slot r of a tile is tile row
// lane / 8 + 4 r, and the lane copies its chunks lane % 8 + 8 j (j < kChunkGroups) of both the
// K and the V row. The swizzle (swizzled_chunk) of slots r and r + 2 is the same (their rows
// differ by 8) and the chunk step j only adds 8 chunks, so two shared addresses and the lane's
// K / V column pointers, computed once, give every copy as a base plus an immediate; a stage
// adds one product. S: the kernel's shape (MmaShape, ClusterShape): kChunks, kChunkGroups,
// kTileElems, kStages (the V stages follow the K stages in the warp's ring).
// Why: rebuilt per copy, the addresses were ~50 SASS a row, ~200 of a tile's ~530 (cuobjdump,
// session 24); in the cluster kernel B=1 S=4096 -4% (paged16 -6.6%), H200 s24 c6.
template <class S, class T>
struct RingCopier {
  std::uint32_t dst_even, dst_odd;  // slot 0's and slot 1's first chunk in stage 0 (K)
  const T* k_lane;
  const T* v_lane;

  __device__ __forceinline__ RingCopier(const T* pipe, const T* kg, const T* vg, int lane)
      : dst_even(smem_addr(pipe) + swizzled_chunk<S::kChunks>(lane / 8, lane % 8) * 16),
        dst_odd(smem_addr(pipe) + swizzled_chunk<S::kChunks>(lane / 8 + 4, lane % 8) * 16),
        k_lane(kg + (lane % 8) * 8),
        v_lane(vg + (lane % 8) * 8) {}

  // Row slot r of stage `stage`: the K and V rows at cache offset `src` (elements, head 0 of
  // the lane's KV head), zero-filled when not valid.
  __device__ __forceinline__ void copy(int stage, int r, std::int64_t src, bool valid) const {
    constexpr std::uint32_t kTileBytes = S::kTileElems * sizeof(T);
    constexpr std::uint32_t kVBytes = S::kStages * kTileBytes;
    const std::uint32_t dst = ((r & 1) ? dst_odd : dst_even) +
                              static_cast<std::uint32_t>(r >> 1) * (8 * S::kChunks * 16) +
                              static_cast<std::uint32_t>(stage) * kTileBytes;
    const T* ks = k_lane + src;
    const T* vs = v_lane + src;
#pragma unroll
    for (int j = 0; j < S::kChunkGroups; ++j) {
      cp_async16_at(dst + j * 128, ks + 64 * j, valid);
      cp_async16_at(dst + kVBytes + j * 128, vs + 64 * j, valid);
    }
  }
};

template <class T, int D, bool kFused>
__global__ void __launch_bounds__(kMmaThreads) decode_mma_kernel(DecodeParams p) {
  using S = MmaShape<T, D>;
  constexpr int kKSteps = D / 16;  // Q K^T reduction steps
  constexpr int kDTiles = D / 8;   // O column tiles
  extern __shared__ __align__(128) unsigned char smem[];
  pdl_launch_dependents();
  pdl_wait();  // q, lengths and the cache may come from the kernel before this one

  const int group = p.num_q_heads / p.cache.num_kv_heads;
  const int tiles_per_group = (group + kMmaRows - 1) / kMmaRows;
  const int hkv = blockIdx.y / tiles_per_group;
  const int h0 = hkv * group + (blockIdx.y % tiles_per_group) * kMmaRows;
  const int group_end = hkv * group + group;
  const int n_heads = group_end - h0 < kMmaRows ? group_end - h0 : kMmaRows;
  const int b = blockIdx.z;
  const int split = blockIdx.x;

  const CachedKv::Seq seq = CachedKv{p.cache, p.kv_lens}.seq(b);
  // kFused, paged: the table window of the range the plan's chunk gives, loaded while the
  // lengths are still on their way (page_window.cuh).
  int* s_pages = reinterpret_cast<int*>(smem + S::kPagesOffset);
  const int guess_first =
      kFused && seq.paged ? static_cast<int>(std::int64_t{split} * p.chunk / seq.page_size) : 0;
  if (kFused && seq.paged) stage_pages(s_pages, seq.table, guess_first, p.cache.max_blocks_per_seq);
  // kFused: its own cut from the whole batch's lengths (fused_cut.cuh), over the rows the
  // cache addresses; the other variants: the plan's chunk (seq_split).
  const int max_len = seq.max_len < 0x7fffffff ? static_cast<int>(seq.max_len) : 0x7fffffff;
  const int len = kFused ? (seq.len < max_len ? seq.len : max_len) : seq.len;
  SeqSplit cut;
  if constexpr (kFused)
    cut = fused_cut(p, len, max_len);
  else
    cut = seq_split(len, p.max_splits, p.chunk);
  if (split >= (cut.count > 0 ? cut.count : 1)) return;  // split 0 writes zeros when len <= 0
  const int begin = split * cut.chunk;
  const int end = len < begin + cut.chunk ? len : begin + cut.chunk;
  const int block_tiles = end > begin ? (end - begin + kMmaKeys - 1) / kMmaKeys : 0;
  PageWindow window;
  if constexpr (kFused) {
    if (seq.paged && end > begin) {
      window.s_pages = s_pages;
      window.first = begin / seq.page_size;
      window.staged = (end - 1) / seq.page_size - window.first < kPageWindow;
      if (window.staged && window.first != guess_first) {  // the cut differs from the plan's
        __syncthreads();
        stage_pages(s_pages, seq.table, window.first, p.cache.max_blocks_per_seq);
      }
    }
    __syncthreads();  // the window is visible to every warp
  }

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int my_tiles = block_tiles > warp ? (block_tiles - warp + kMmaWarps - 1) / kMmaWarps : 0;
  T* pipe = reinterpret_cast<T*>(smem) + warp * S::kWarpElems;
  T* sq = reinterpret_cast<T*>(smem + S::kQOffset);
  const T* kg = static_cast<const T*>(p.cache.k) + hkv * p.cache.head_stride;
  const T* vg = static_cast<const T*>(p.cache.v) + hkv * p.cache.head_stride;

  // Warp tile i covers keys key0(i) .. +15; this lane copies rows lane / 8 + 4 r of it.
  auto key0 = [&](int i) { return begin + (warp + i * kMmaWarps) * kMmaKeys; };
  // kFused: rows_of is called for i = 0, 1, 2, ... in order, so a cursor walks the rows.
  RowCursor<S::kRowsPerLane> cursor;
  if constexpr (kFused) cursor.start(seq, key0(0), lane / 8, 4, kMmaWarps * kMmaKeys);
  auto rows_of = [&](int i) {
    TileRows<T, D> t;
    if constexpr (kFused) {
      cursor.take(seq, window, i < my_tiles ? end : 0, t.off);
    } else {
      int pos[S::kRowsPerLane];
#pragma unroll
      for (int r = 0; r < S::kRowsPerLane; ++r) pos[r] = key0(i) + lane / 8 + 4 * r;
      seq.row_offsets(pos, i < my_tiles ? end : 0, t.off);
    }
    return t;
  };
  const RingCopier<S, T> copier(pipe, kg, vg, lane);
  auto load_tile = [&](const TileRows<T, D>& t, int stage) {
#pragma unroll
    for (int r = 0; r < S::kRowsPerLane; ++r) {
      const bool valid = t.off[r] >= 0;
      copier.copy(stage, r, valid ? t.off[r] : 0, valid);
    }
  };

  // Prologue: the first kStages - 1 tiles go out before anything else waits on memory. A
  // paged cache's block-table entries of those tiles and of the one after are all loaded
  // before the first copy is issued (the copies are volatile asm, so loads interleaved with
  // them would cost one table latency per tile before the ring is full).
  TileRows<T, D> first[S::kStages];
#pragma unroll
  for (int s = 0; s < S::kStages; ++s) first[s] = rows_of(s);
#pragma unroll
  for (int s = 0; s < S::kStages - 1; ++s) {
    if (s < my_tiles) load_tile(first[s], s);
    cp_async_commit();
  }
  TileRows<T, D> ahead = first[S::kStages - 1];

  // Q rows of this block's heads (rows past them zero), swizzled like the K tiles.
  for (int idx = tid; idx < kMmaRows * S::kChunks; idx += kMmaThreads) {
    const int row = idx / S::kChunks, c = idx % S::kChunks;
    Vec16<T> v;
    if (row < n_heads) {
      v.load(static_cast<const T*>(p.q) + b * p.q_stride_b + (h0 + row) * p.q_stride_h + c * 8);
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) v[e] = from_f32<T>(0.0f);
    }
    v.store(sq + swizzled_chunk<S::kChunks>(row, c) * 8);
  }
  __syncthreads();
  // Q's A fragments: in registers up to D = 128; at D = 256 (64 more registers would spill)
  // re-read from shared memory every tile, which costs one ldmatrix per k-step.
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

  for (int i = 0; i < my_tiles; ++i) {
    const int next = i + S::kStages - 1;
    if (next < my_tiles) load_tile(ahead, next % S::kStages);
    cp_async_commit();
    ahead = rows_of(next + 1);  // its block-table loads overlap the wait below
    cp_async_wait<S::kStages - 1>();
    __syncwarp();  // every lane's copies of tile i are visible to the whole warp

    const T* tk = pipe + (i % S::kStages) * S::kTileElems;
    const T* tv = tk + S::kStages * S::kTileElems;
    float s[2][4] = {};
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) {
      std::uint32_t r[4];
      ldmatrix_x4(
          r,
          tk + swizzled_chunk<S::kChunks>(lane % 8 + (lane / 16) * 8, kk * 2 + (lane / 8) % 2) * 8);
      const std::uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
      std::uint32_t(&q)[4] = qf[S::kQInRegs ? kk : 0];
      if constexpr (!S::kQInRegs) load_q(q, kk);
      mma_m16n8k16<T>(s[0], q, b0);
      mma_m16n8k16<T>(s[1], q, b1);
    }
    // Scores in log2 units; keys past the range's end are masked (only the last tile).
    const int k0 = key0(i);
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] *= sl;
    if (k0 + kMmaKeys > end) {
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (k0 + nt * 8 + (lane % 4) * 2 + (e & 1) >= end) s[nt][e] = -INFINITY;
    }

    // Online softmax: head rows lane / 4 (elements 0, 1) and lane / 4 + 8 (elements 2, 3).
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float mx = fmaxf(row_max[half], fmaxf(fmaxf(s[0][2 * half], s[0][2 * half + 1]),
                                            fmaxf(s[1][2 * half], s[1][2 * half + 1])));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float base = mx == -INFINITY ? 0.0f : mx;
      const float alpha = exp2f(row_max[half] - base);
      row_max[half] = mx;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int e = 2 * half; e < 2 * half + 2; ++e) {
          s[nt][e] = exp2f(s[nt][e] - base);
          sum += s[nt][e];
        }
      row_sum[half] = row_sum[half] * alpha + sum;  // lane-partial; reduced after the loop
#pragma unroll
      for (int nt = 0; nt < kDTiles; ++nt) {
        o[nt][2 * half] *= alpha;
        o[nt][2 * half + 1] *= alpha;
      }
    }

    // O += P V: the S accumulators of the two key n-tiles are P's A fragment (16 keys).
    const std::uint32_t a[4] = {pack2<T>(s[0][0], s[0][1]), pack2<T>(s[0][2], s[0][3]),
                                pack2<T>(s[1][0], s[1][1]), pack2<T>(s[1][2], s[1][3])};
#pragma unroll
    for (int dp = 0; dp < kDTiles / 2; ++dp) {
      std::uint32_t r[4];
      ldmatrix_x4_trans(
          r,
          tv + swizzled_chunk<S::kChunks>(lane % 8 + ((lane / 8) % 2) * 8, dp * 2 + lane / 16) * 8);
      const std::uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
      mma_m16n8k16<T>(o[2 * dp], a, b0);
      mma_m16n8k16<T>(o[2 * dp + 1], a, b1);
    }
    __syncwarp();  // every lane is done with stage i before the next iteration refills it
  }
  cp_async_wait<0>();
  __syncthreads();  // the merge below reuses every warp's pipeline memory

  // Merge the 4 warp states per head row.
  float* mo = reinterpret_cast<float*>(smem);
  float* mmax = mo + kMmaWarps * kMmaRows * S::kMergeStride;
  float* msum = mmax + kMmaWarps * kMmaRows;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    float sum = row_sum[half];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int row = lane / 4 + 8 * half;
    if (row >= n_heads) continue;
    float* dst = mo + (warp * kMmaRows + row) * S::kMergeStride + (lane % 4) * 2;
#pragma unroll
    for (int nt = 0; nt < kDTiles; ++nt)
      *reinterpret_cast<float2*>(dst + nt * 8) = make_float2(o[nt][2 * half], o[nt][2 * half + 1]);
    if (lane % 4 == 0) {
      mmax[warp * kMmaRows + row] = row_max[half];
      msum[warp * kMmaRows + row] = sum;
    }
  }
  __syncthreads();

  const bool direct = cut.count <= 1;
  for (int idx = tid; idx < n_heads * S::kChunks; idx += kMmaThreads) {
    const int row = idx / S::kChunks, c = idx % S::kChunks;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kMmaWarps; ++w) mx = fmaxf(mx, mmax[w * kMmaRows + row]);
    const float base = mx == -INFINITY ? 0.0f : mx;
    float sum = 0.0f, acc[8] = {};
#pragma unroll
    for (int w = 0; w < kMmaWarps; ++w) {
      const float wt = exp2f(mmax[w * kMmaRows + row] - base);
      sum += wt * msum[w * kMmaRows + row];
      const float* src = mo + (w * kMmaRows + row) * S::kMergeStride + c * 8;
      const float4 lo = *reinterpret_cast<const float4*>(src);
      const float4 hi = *reinterpret_cast<const float4*>(src + 4);
      const float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[e] = fmaf(wt, v[e], acc[e]);
    }
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    const int h = h0 + row;
    if (direct) {
      Vec16<T> out;
#pragma unroll
      for (int e = 0; e < 8; ++e) out[e] = from_f32<T>(acc[e] * inv);
      out.store(static_cast<T*>(p.out) + b * p.out_stride_b + h * p.out_stride_h + c * 8);
    } else {
      const std::int64_t part = (std::int64_t{b} * p.num_q_heads + h) * p.max_splits + split;
      float* dst = p.part_o + part * D + c * 8;
      *reinterpret_cast<float4*>(dst) =
          make_float4(acc[0] * inv, acc[1] * inv, acc[2] * inv, acc[3] * inv);
      *reinterpret_cast<float4*>(dst + 4) =
          make_float4(acc[4] * inv, acc[5] * inv, acc[6] * inv, acc[7] * inv);
      if (c == 0) p.part_lse[part] = sum > 0.0f ? mx + log2f(sum) : -INFINITY;
    }
  }
  if constexpr (kFused) {
    if (direct) return;
    unsigned* counter = p.counters + blockIdx.z * gridDim.y + blockIdx.y;
    if (!arrive_last(counter, cut.count)) return;
    combine_partials<T, D, kMmaThreads>(p, b, h0, n_heads, cut.count, mo);
    if (tid == 0) *counter = 0u;  // every CTA of this tile has arrived: ready for the next call
  }
}

template <class T, int D, bool kFused = false>
void launch_mma_dim(const DecodeParams& p, cudaStream_t stream, bool pdl) {
  constexpr std::size_t smem_bytes = mma_smem_bytes<T, D, kFused>();
  const auto kernel = decode_mma_kernel<T, D, kFused>;
  // Once per instantiation (not a stream operation, so graph capture is unaffected).
  static const bool smem_ok = [&] {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(smem_bytes)),
          "cudaFuncSetAttribute(decode mma)");
    return true;
  }();
  (void)smem_ok;
  const int group = p.num_q_heads / p.cache.num_kv_heads;
  const int tiles_per_group = (group + kMmaRows - 1) / kMmaRows;
  const dim3 grid(static_cast<unsigned>(p.max_splits),
                  static_cast<unsigned>(p.cache.num_kv_heads * tiles_per_group),
                  static_cast<unsigned>(p.batch));
  launch_maybe_pdl(kernel, grid, dim3(kMmaThreads), smem_bytes, stream, pdl,
                   kFused ? "decode_attention mma fused" : "decode_attention mma", p);
}

template <class T, int D>
int mma_blocks_per_sm() {
  const auto kernel = decode_mma_kernel<T, D, false>;
  static const bool smem_ok = [&] {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(MmaShape<T, D>::kSmemBytes)),
          "cudaFuncSetAttribute(decode mma)");
    return true;
  }();
  (void)smem_ok;
  int n = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kMmaThreads,
                                                      MmaShape<T, D>::kSmemBytes),
        "cudaOccupancyMaxActiveBlocksPerMultiprocessor(decode mma)");
  return n;
}

// Explicitly instantiated per dtype in decode_mma_<dtype>.cu.
template <class T>
void launch_decode_mma_typed(const DecodeParams& p, cudaStream_t stream, bool pdl) {
  switch (p.cache.head_dim) {
    case 64:
      return launch_mma_dim<T, 64>(p, stream, pdl);
    case 128:
      return launch_mma_dim<T, 128>(p, stream, pdl);
    case 256:
      return launch_mma_dim<T, 256>(p, stream, pdl);
    default:
      fail("decode_attention mma: head_dim must be 64, 128 or 256");
  }
}

// Explicitly instantiated per dtype in decode_mma_fused_<dtype>.cu; always under PDL.
template <class T>
void launch_decode_mma_fused_typed(const DecodeParams& p, cudaStream_t stream) {
  switch (p.cache.head_dim) {
    case 64:
      return launch_mma_dim<T, 64, true>(p, stream, true);
    case 128:
      return launch_mma_dim<T, 128, true>(p, stream, true);
    case 256:
      return launch_mma_dim<T, 256, true>(p, stream, true);
    default:
      fail("decode_attention mma: head_dim must be 64, 128 or 256");
  }
}

template <class T>
int decode_mma_blocks_per_sm_typed(int head_dim) {
  switch (head_dim) {
    case 64:
      return mma_blocks_per_sm<T, 64>();
    case 128:
      return mma_blocks_per_sm<T, 128>();
    case 256:
      return mma_blocks_per_sm<T, 256>();
    default:
      fail("decode_attention mma: head_dim must be 64, 128 or 256");
  }
}

}  // namespace klab::cuda::decode
