// The kernel behind `split_kv_mma_cluster` (4 warps a CTA), `split_kv_mma_cluster_w8` (8) and
// `split_kv_mma_cluster_s2` (4 warps, 2-stage rings: two CTAs fit an SM):
// the tensor-core split-KV decode of decode_mma.cuh, latency first, for the shapes where the
// keys of one (sequence, KV head tile) are spread over at most 16 CTAs (batch 1-8 decode).
//
// Why: ncu of split_kv_mma_fused at B=1 S=4096 (H200) shows the SMs active for only 59% of the
// kernel and ~2,980 instructions per warp for 4 16-key tiles of ~200 each: the fixed prologue
// (length -> batch-wide cut -> rows -> Q -> first tiles, one memory latency after another) and
// epilogue (partials to global memory, fence, arrival atomic, the last CTA re-reading every
// partial) are most of the time. Here:
//   - the splits of one (sequence, KV head tile) are one thread-block cluster (grid x = the
//     cluster size n <= 16, set at launch). Each CTA merges its warps in shared memory and
//     stores its (max, sum, unnormalised O) of every output chunk into the shared memory of the
//     chunk's owner CTA (push_state); after one cluster barrier each owner merges its chunks
//     locally (merge_owned) and writes `out`: no partials, no fence, no atomic, no workspace,
//     no counters, no remote loads;
//   - the cut is this sequence's length over the cluster's n CTAs (decode_params.hpp
//     cluster_split): no batch-wide reduction, no block barrier to learn it;
//   - the sequence length, the Q rows (into registers) and, for a paged cache, the block-table
//     window of the range the plan guesses are loaded together, before anything waits; with
//     p.speculate the first copies of that range go out before the length arrives (a paged
//     cache's rows through the global table);
//   - the ring holds every tile of a warp's range where it fits (4 stages at D <= 128 with 4
//     warps, 3 with 8): at B=1 S=4096 (16 CTAs x 256 keys per KV head) every copy of a CTA is
//     issued in its prologue.
// The key loop is decode_mma.cuh's (S = Q K^T, online softmax in log2 units, O += P V with P
// re-packed from the accumulators), the rows addressed through page_window.cuh as in the fused
// variant.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <type_traits>

#include "cuda/attn_decode/decode_mma.cuh"
#include "cuda/common/cluster.cuh"
#include "cuda/common/launch_attrs.hpp"

namespace klab::cuda::decode {

// A push-merge receive entry (push_state): 8 O values, max, sum, 2 pad (48 bytes: 16-byte stores).
constexpr int kRecvFloats = 12;

template <class T, int D, int kWarps, int kMaxStages>
struct ClusterShape {
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kChunks = D / 8;  // 16-byte chunks per row
  static constexpr int kTileElems = kMmaKeys * D;
  static constexpr std::size_t kStageBytes = 2 * sizeof(T) * kTileElems;  // K + V of a warp tile
  // Up to kMaxStages tiles in flight per warp (4: all of a B=1 S=4096 range), inside 192 KiB.
  static constexpr std::size_t kPipeBudget = 192 * 1024;
  static constexpr int kFit = static_cast<int>(kPipeBudget / (kWarps * kStageBytes));
  static constexpr int kStages = kFit > kMaxStages ? kMaxStages : kFit < 1 ? 1 : kFit;
  static constexpr int kWarpElems = 2 * kStages * kTileElems;
  static constexpr int kRowsPerLane = kMmaKeys / 4;
  static constexpr int kChunkGroups = kChunks / 8;
  static constexpr bool kQInRegs = D <= 128;
  static constexpr int kQPerThread = (kMmaRows * kChunks + kThreads - 1) / kThreads;
  static constexpr std::size_t kPipeBytes = sizeof(T) * kWarps * kWarpElems;
  // The warp merge ([warp][row][kMergeStride] O, then max and sum) reuses the ring.
  static constexpr int kMergeStride = D + 4;
  static constexpr std::size_t kMergeBytes = sizeof(float) * kWarps * kMmaRows * (kMergeStride + 2);
  static constexpr std::size_t kQOffset = kPipeBytes > kMergeBytes ? kPipeBytes : kMergeBytes;
  // The receive area of the push merge (push_state / merge_owned): an entry per (owned output
  // chunk, source CTA), kRecvFloats floats each; at most (chunks / n + 1) * n <= chunks + 16.
  static constexpr std::size_t kRecvOffset = kQOffset + sizeof(T) * kMmaRows * D;
  static constexpr std::size_t kRecvBytes =
      sizeof(float) * kRecvFloats * (kMmaRows * kChunks + kClusterMaxSplits);
  static constexpr std::size_t kPagesOffset = kRecvOffset + kRecvBytes;
  static constexpr std::size_t kSmemBytes = kPagesOffset + sizeof(int) * kPageWindow;
  static_assert(sizeof(T) == 2 && D % 64 == 0, "f16 / bf16 rows of 64, 128 or 256");
  static_assert(kQOffset % 16 == 0 && kRecvOffset % 16 == 0 && kPagesOffset % 16 == 0);
  static_assert(kSmemBytes <= 227 * 1024, "over the sm_90 shared memory of a CTA");
};

// The push merge. Output chunk `item` (8 columns of one head row) belongs to CTA item % n of the
// cluster's n; each CTA stores its state of every chunk (8 unnormalised O values relative to its
// max, the max, the sum) into the owner's receive area at entry (item / n) * n + its rank, before
// one cluster barrier (release / acquire); after it each owner merges its chunks from its own
// shared memory. Why: reading the states through distributed shared memory after the barrier,
// as before, put a remote round trip and a second barrier (keeping every CTA alive for its
// readers) on the path to `out`. Session 30 (H200): in the probe (scripts/probes/
// decode_stream_pattern.cu, c6 / c7) the old epilogue took 2.2-3.3 µs a launch and this one
// 0.65-0.9 less; in the kernel (c8) `_s2` B=1 0.2-0.5 µs less, `_spec` unchanged.
__device__ __forceinline__ void push_state(std::uint32_t recv_addr, int item, const float (&acc)[8],
                                           float mx, float sum) {
  const int n = static_cast<int>(gridDim.x);
  const int entry = (item / n) * n + static_cast<int>(blockIdx.x);
  const std::uint32_t dst = cluster_map(recv_addr + sizeof(float) * kRecvFloats * entry, item % n);
  st_cluster_f32x4(dst, make_float4(acc[0], acc[1], acc[2], acc[3]));
  st_cluster_f32x4(dst + 16, make_float4(acc[4], acc[5], acc[6], acc[7]));
  st_cluster_f32x2(dst + 32, mx, sum);
}

// Thread = (owned chunk, source CTA): `lanes` (a power of two >= n) consecutive lanes read one
// chunk's n entries, meet by shuffles (max, then weighted sums) and one of them stores. Every
// thread of the CTA runs the same passes (the shuffles need whole warps).
template <class T, int D, int kThreads>
__device__ __forceinline__ void merge_owned(const DecodeParams& p, const float* recv, int b, int h0,
                                            int n_heads) {
  constexpr int kChunks = D / 8;
  const int n = static_cast<int>(gridDim.x), rank = static_cast<int>(blockIdx.x);
  int lanes = 2;
  while (lanes < n) lanes *= 2;
  const int per_pass = kThreads / lanes;
  const int items = n_heads * kChunks;
  const int owned = items > rank ? (items - rank + n - 1) / n : 0;
  const int tid = static_cast<int>(threadIdx.x), src = tid % lanes;
  for (int first = 0; first < owned; first += per_pass) {
    const int slot = first + tid / lanes;
    const bool active = slot < owned;
    float m = -INFINITY, l = 0.0f;
    float4 lo = make_float4(0.0f, 0.0f, 0.0f, 0.0f), hi = lo;
    if (active && src < n) {
      const float* e = recv + kRecvFloats * (slot * n + src);
      lo = *reinterpret_cast<const float4*>(e);
      hi = *reinterpret_cast<const float4*>(e + 4);
      m = e[8];
      l = e[9];
    }
    float mx = m;
    for (int off = lanes / 2; off > 0; off /= 2)
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    const float w = exp2f(m - (mx == -INFINITY ? 0.0f : mx));  // no keys (-inf): 0
    float v[9] = {lo.x * w, lo.y * w, lo.z * w, lo.w * w, hi.x * w,
                  hi.y * w, hi.z * w, hi.w * w, l * w};
    for (int off = lanes / 2; off > 0; off /= 2)
#pragma unroll
      for (int e = 0; e < 9; ++e) v[e] += __shfl_xor_sync(0xffffffffu, v[e], off);
    if (active && src == 0) {
      const int item = rank + slot * n, row = item / kChunks, c = item % kChunks;
      const float inv = v[8] > 0.0f ? 1.0f / v[8] : 0.0f;
      Vec16<T> out;
#pragma unroll
      for (int e = 0; e < 8; ++e) out[e] = from_f32<T>(v[e] * inv);
      out.store(static_cast<T*>(p.out) + b * p.out_stride_b + (h0 + row) * p.out_stride_h + c * 8);
    }
  }
}

// s_pages[i] = table[first + i] for i < count and first + i < row_len, else -1 (i < kPageWindow).
// Every load is issued before any store (stage_pages' loop, whose stores may alias its loads,
// pays one table latency per iteration). All threads of the block take part; the caller syncs.
template <int kThreads>
__device__ __forceinline__ void stage_window(int* s_pages, const std::int32_t* table, int first,
                                             int count, int row_len) {
  constexpr int kPer = (kPageWindow + kThreads - 1) / kThreads;
  int v[kPer];
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int i = static_cast<int>(threadIdx.x) + j * kThreads;
    v[j] = i < count && first + i < row_len ? table[first + i] : -1;
  }
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int i = static_cast<int>(threadIdx.x) + j * kThreads;
    if (i < kPageWindow) s_pages[i] = v[j];
  }
}

// Table entries a range of `keys` keys starting anywhere in a page touches (<= kPageWindow).
__device__ __forceinline__ int window_pages(std::int64_t keys, int page_size) {
  const std::int64_t n = (keys + page_size - 1) / page_size + 1;
  return n < kPageWindow ? static_cast<int>(n) : kPageWindow;
}

// TileRows offset of a row the prologue leaves for after the PDL wait (valid offsets are >= 0,
// rows to zero-fill are -1).
constexpr std::int64_t kDeferredRow = -2;

template <class T, int D, int kWarps, int kMaxStages>
__global__ void __launch_bounds__(kWarps * 32, 1) decode_cluster_kernel(DecodeParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using S = ClusterShape<T, D, kWarps, kMaxStages>;
  constexpr int kKSteps = D / 16;  // Q K^T reduction steps
  constexpr int kDTiles = D / 8;   // O column tiles
  extern __shared__ __align__(128) unsigned char smem[];
  pdl_launch_dependents();
  // The first phase of the cluster barrier: waited for just before the merge's remote stores,
  // it guarantees every CTA of the cluster has started (its receive area exists), and by then
  // it has long completed.
  cluster_arrive_relaxed();
  // q and the cache rows may come from the kernel before this one; the lengths and the block
  // table too, unless the caller wrote them ahead of the stream work (indices_ready): then they
  // are read, and the table window staged, while that kernel still runs.
  if (!p.indices_ready) pdl_wait();

  const int group = p.num_q_heads / p.cache.num_kv_heads;
  const int tiles_per_group = (group + kMmaRows - 1) / kMmaRows;
  const int hkv = blockIdx.y / tiles_per_group;
  const int h0 = hkv * group + (blockIdx.y % tiles_per_group) * kMmaRows;
  const int group_end = hkv * group + group;
  const int n_heads = group_end - h0 < kMmaRows ? group_end - h0 : kMmaRows;
  const int b = blockIdx.z;
  const int split = blockIdx.x;  // == the CTA's rank in its (n, 1, 1) cluster
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  // In flight together: the length, the Q rows, a paged cache's block-table window for the
  // range the plan guesses (p.chunk per split). With indices_ready the window is staged before
  // the wait instead (the Q rows only after it).
  const CachedKv::Seq seq = CachedKv{p.cache, p.kv_lens}.seq(b);
  int* s_pages = reinterpret_cast<int*>(smem + S::kPagesOffset);
  const int guess_first =
      seq.paged ? static_cast<int>(std::int64_t{split} * p.chunk / seq.page_size) : 0;
  const int guess_pages = seq.paged && p.chunk > 0 ? window_pages(p.chunk, seq.page_size) : 0;
  auto stage_guessed_window = [&] {
    if (seq.paged)
      stage_window<S::kThreads>(s_pages, seq.table, guess_first, guess_pages,
                                p.cache.max_blocks_per_seq);
  };
  // history_ready (params_of sets it only with indices_ready): the K/V copies of the prologue
  // go out before the wait too (all rows but the sequence's last, which the kernel before may
  // be writing), q after it.
  const bool early_kv = p.history_ready;
  if (p.indices_ready) stage_guessed_window();
  Vec16<T> qv[S::kQPerThread];
  auto load_q_rows = [&] {
#pragma unroll
    for (int j = 0; j < S::kQPerThread; ++j) {
      const int idx = tid + j * S::kThreads, row = idx / S::kChunks, c = idx % S::kChunks;
      if (row < n_heads) {
        qv[j].load(static_cast<const T*>(p.q) + b * p.q_stride_b + (h0 + row) * p.q_stride_h +
                   c * 8);
      } else {
#pragma unroll
        for (int e = 0; e < 8; ++e) qv[j][e] = from_f32<T>(0.0f);
      }
    }
  };

  const int max_len = seq.max_len < 0x7fffffff ? static_cast<int>(seq.max_len) : 0x7fffffff;
  T* pipe = reinterpret_cast<T*>(smem) + warp * S::kWarpElems;
  T* sq = reinterpret_cast<T*>(smem + S::kQOffset);
  const T* kg = static_cast<const T*>(p.cache.k) + hkv * p.cache.head_stride;
  const T* vg = static_cast<const T*>(p.cache.v) + hkv * p.cache.head_stride;

  // This CTA's key range [begin, end) and this warp's tiles of it; warp tile i covers keys
  // key0(i) .. +15, of which this lane copies rows lane / 8 + 4 r.
  int begin = 0, end = 0, my_tiles = 0;
  PageWindow window;
  RowCursor<S::kRowsPerLane> cursor;
  auto key0 = [&](int i) { return begin + (warp + i * kWarps) * kMmaKeys; };
  auto set_range = [&](int first, int last) {
    begin = first;
    end = last;
    const int block_tiles = (end - begin + kMmaKeys - 1) / kMmaKeys;
    my_tiles = block_tiles > warp ? (block_tiles - warp + kWarps - 1) / kWarps : 0;
    cursor.start(seq, key0(0), lane / 8, 4, kWarps * kMmaKeys);
  };
  auto rows_of = [&](int i) {  // called for i = 0, 1, 2, ... in order after set_range
    TileRows<T, D> t;
    cursor.take(seq, window, i < my_tiles ? end : 0, t.off);
    return t;
  };
  const RingCopier<S, T> copier(pipe, kg, vg, lane);
  // Only the prologue's tiles can hold the deferred row: the loop's copies skip that check.
  auto load_tile = [&](const TileRows<T, D>& t, int stage, auto may_defer) {
#pragma unroll
    for (int r = 0; r < S::kRowsPerLane; ++r) {
      if (decltype(may_defer)::value && t.off[r] == kDeferredRow) continue;  // after the wait
      const bool valid = t.off[r] >= 0;
      copier.copy(stage, r, valid ? t.off[r] : 0, valid);
    }
  };
  // The first kStages - 1 tiles (with the first loop iteration's, every stage) go out before
  // anything waits on them; `ahead`: the rows of the tile after them.
  TileRows<T, D> ahead;
  // early_kv: the row of key `defer_key` (the sequence's last) is left out of the prologue's
  // copies and remembered (its stage, row slot and cache offset) for after the wait.
  int defer_key = -1, deferred_stage = -1, deferred_r = 0;
  std::int64_t deferred_off = 0;
  // Every tile's rows are taken before the first copy: a paged cache's table reads (the global
  // table in the speculative prologue) are then all in flight together, one memory latency,
  // not one a tile (the copies are volatile asm, so nothing moves a load above them).
  using PrologueRows = TileRows<T, D>[S::kStages];
  auto take_prologue_rows = [&](PrologueRows& t) {
#pragma unroll
    for (int s = 0; s < S::kStages; ++s) t[s] = rows_of(s);
  };
  auto copy_prologue = [&](PrologueRows& t) {
#pragma unroll
    for (int s = 0; s < S::kStages - 1; ++s) {
#pragma unroll
      for (int r = 0; r < S::kRowsPerLane; ++r)
        if (defer_key >= 0 && key0(s) + lane / 8 + 4 * r == defer_key && t[s].off[r] >= 0 &&
            s < my_tiles) {
          deferred_stage = s;
          deferred_r = r;
          deferred_off = t[s].off[r];
          t[s].off[r] = kDeferredRow;
        }
      if (s < my_tiles) load_tile(t[s], s, std::true_type{});
      cp_async_commit();
    }
    ahead = t[S::kStages - 1];
  };
  auto issue_prologue = [&] {
    PrologueRows t;
    take_prologue_rows(t);
    copy_prologue(t);
  };

  // Speculative: the range of the plan's guessed cut, clamped to the rows the cache holds, goes
  // out before the length is known. Rows the actual length excludes are masked in the softmax
  // (K) and zeroed after their copy lands (V). A paged cache's rows come from the global table
  // here (the staged window is not visible to every warp before a block barrier): table, then
  // copies, with no wait for the length and no barrier in between; table entries past the
  // sequence's pages are either unmapped (zero-filled) or another sequence's rows (masked).
  //
  // With indices_ready the table reads go out before the PDL wait (only the copies need the
  // kernel before this one to have finished), so a paged prologue's copies follow the wait as
  // directly as a contiguous one's (s24-s25: the table -> copy latency was most of the paged
  // penalty at B=1 S=4096).
  const bool spec = p.speculate && !early_kv && p.chunk > 0;
  PrologueRows spec_rows;
  if (spec) {
    const std::int64_t guess_begin = std::int64_t{split} * p.chunk;
    const int gb = guess_begin < max_len ? static_cast<int>(guess_begin) : max_len;
    const std::int64_t guess_end = std::int64_t{gb} + p.chunk;
    set_range(gb, guess_end < max_len ? static_cast<int>(guess_end) : max_len);
    take_prologue_rows(spec_rows);
  }
  if (p.indices_ready && !early_kv) pdl_wait();
  if (!early_kv) load_q_rows();
  if (!p.indices_ready) stage_guessed_window();
  if (spec) copy_prologue(spec_rows);

  const int len = seq.len < 0 ? 0 : seq.len < max_len ? seq.len : max_len;
  const SeqSplit cut = cluster_split(len, static_cast<int>(gridDim.x));
  // One split (or none): CTA 0 writes out alone; the whole cluster agrees, so no CTA waits on
  // a cluster barrier the others skip.
  const bool direct = cut.count <= 1;
  if (direct && split > 0) {
    if (spec) cp_async_wait<0>();  // no copy lands in released shared memory
    cluster_wait();                // every CTA completes the barrier phase it arrived on
    return;
  }
  const int first = split * cut.chunk < len ? split * cut.chunk : len;  // past count: empty
  const int last = len < first + cut.chunk ? len : first + cut.chunk;
  if (spec && cut.chunk == p.chunk && first == begin) {
    // The guess holds: the actual range is a prefix of the issued one.
    const int block_tiles = (last - first + kMmaKeys - 1) / kMmaKeys;
    end = last;
    my_tiles = block_tiles > warp ? (block_tiles - warp + kWarps - 1) / kWarps : 0;
    if (seq.paged && last > first) {
      // The loop's rows come from the guessed window, which covers the range when it spans no
      // more pages; the block barrier after Q's store makes it visible before the loop.
      window.s_pages = s_pages;
      window.first = guess_first;
      window.staged = (last - 1) / seq.page_size - guess_first + 1 <= guess_pages;
    }
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
        // The guessed window serves when it starts at the range's first page and covers it.
        if (window.staged && (window.first != guess_first || pages > guess_pages)) {
          __syncthreads();
          stage_window<S::kThreads>(s_pages, seq.table, window.first, pages,
                                    p.cache.max_blocks_per_seq);
        }
      }
      __syncthreads();  // the window is visible to every warp
    }
    if (early_kv) defer_key = len - 1;
    set_range(first, last);
    issue_prologue();
  }
  if (early_kv) {
    pdl_wait();
    if (deferred_stage >= 0) {  // the lanes holding the last row's chunks copy it now
      copier.copy(deferred_stage, deferred_r, deferred_off, true);
      cp_async_commit();  // waited for at its tile (the loop's own waits count groups)
    }
    load_q_rows();
  }

#pragma unroll
  for (int j = 0; j < S::kQPerThread; ++j) {
    const int idx = tid + j * S::kThreads, row = idx / S::kChunks, c = idx % S::kChunks;
    if (row < kMmaRows) qv[j].store(sq + swizzled_chunk<S::kChunks>(row, c) * 8);
  }
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

  for (int i = 0; i < my_tiles; ++i) {
    const int next = i + S::kStages - 1;
    if (next < my_tiles) load_tile(ahead, next % S::kStages, std::false_type{});
    cp_async_commit();
    ahead = rows_of(next + 1);
    cp_async_wait<S::kStages - 1>();
    const int k0 = key0(i);
    T* tk = pipe + (i % S::kStages) * S::kTileElems;
    T* tv = tk + S::kStages * S::kTileElems;
    if (spec && k0 + kMmaKeys > end) {  // V rows past the length hold real rows: zero them
#pragma unroll
      for (int r = 0; r < S::kRowsPerLane; ++r) {
        const int row = lane / 8 + 4 * r;
        if (k0 + row < end) continue;
#pragma unroll
        for (int j = 0; j < S::kChunkGroups; ++j)
          *reinterpret_cast<uint4*>(tv + swizzled_chunk<S::kChunks>(row, lane % 8 + 8 * j) * 8) =
              make_uint4(0u, 0u, 0u, 0u);
      }
    }
    // The row copied after the PDL wait belongs to the warp's last tile (the range's last key):
    // waiting for everything there costs no pipelining, and the earlier tiles hid its latency.
    if (i == deferred_stage) cp_async_wait<0>();
    __syncwarp();  // every lane's copies of tile i are visible to the whole warp
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
      if (half == 1 && n_heads <= 8) {  // no head in rows 8..15: their P is 0, O stays unused
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) s[nt][2] = s[nt][3] = 0.0f;
        continue;
      }
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
      // Along a long range the running max seldom moves: where no row of the warp's moved,
      // alpha is exactly 1 and O's rescale (and the P V MMAs' wait on it) is skipped.
      if (__any_sync(0xffffffffu, alpha != 1.0f)) {
#pragma unroll
        for (int nt = 0; nt < kDTiles; ++nt) {
          o[nt][2 * half] *= alpha;
          o[nt][2 * half + 1] *= alpha;
        }
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
  __syncthreads();  // the warp merge below reuses every warp's ring

  // The kWarps warp states per head row meet in shared memory.
  float* mo = reinterpret_cast<float*>(smem);
  float* mmax = mo + kWarps * kMmaRows * S::kMergeStride;
  float* msum = mmax + kWarps * kMmaRows;
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

  // Thread = (head row, 8 columns): one split writes out, else the CTA's state (O relative to
  // its max, unnormalised) goes to the chunk's owner (push_state).
  cluster_wait();  // every CTA of the cluster has started: its receive area may be written
  float* recv = reinterpret_cast<float*>(smem + S::kRecvOffset);
  const std::uint32_t recv_addr = smem_addr(recv);
  for (int idx = tid; idx < n_heads * S::kChunks; idx += S::kThreads) {
    const int row = idx / S::kChunks, c = idx % S::kChunks;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, mmax[w * kMmaRows + row]);
    const float base = mx == -INFINITY ? 0.0f : mx;
    float sum = 0.0f, acc[8] = {};
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float wt = exp2f(mmax[w * kMmaRows + row] - base);
      sum += wt * msum[w * kMmaRows + row];
      const float* src = mo + (w * kMmaRows + row) * S::kMergeStride + c * 8;
      const float4 lo = *reinterpret_cast<const float4*>(src);
      const float4 hi = *reinterpret_cast<const float4*>(src + 4);
      const float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[e] = fmaf(wt, v[e], acc[e]);
    }
    if (direct) {
      const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
      Vec16<T> out;
#pragma unroll
      for (int e = 0; e < 8; ++e) out[e] = from_f32<T>(acc[e] * inv);
      out.store(static_cast<T*>(p.out) + b * p.out_stride_b + (h0 + row) * p.out_stride_h + c * 8);
    } else {
      push_state(recv_addr, idx, acc, mx, sum);
    }
  }
  if (direct) return;

  // Every CTA's pushes have landed and are visible. Nothing is read remotely after this, so no
  // second barrier keeps a CTA alive for readers: each exits after merging its own chunks.
  cluster_sync();
  merge_owned<T, D, S::kThreads>(p, recv, b, h0, n_heads);
#else
  (void)p;
#endif
}

// Clusters of n CTAs (index n = 1..16) of this kernel that the device holds at once; all zero
// where it cannot launch them (no sm_90 image or device). Computed once per instantiation.
template <class T, int D, int kWarps, int kMaxStages>
const std::array<int, kClusterMaxSplits + 1>& cluster_capacity() {
  using S = ClusterShape<T, D, kWarps, kMaxStages>;
  static const std::array<int, kClusterMaxSplits + 1> capacity = [] {
    std::array<int, kClusterMaxSplits + 1> c{};
    const auto kernel = decode_cluster_kernel<T, D, kWarps, kMaxStages>;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(S::kSmemBytes)) != cudaSuccess ||
        cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) !=
            cudaSuccess) {
      (void)cudaGetLastError();  // no image for this device: the variant is unsupported
      return c;
    }
    for (int n = 1; n <= kClusterMaxSplits; ++n) {
      cudaLaunchConfig_t cfg = {};
      cfg.gridDim = dim3(static_cast<unsigned>(n));
      cfg.blockDim = dim3(S::kThreads);
      cfg.dynamicSmemBytes = S::kSmemBytes;
      LaunchAttrs attrs;
      attrs.cluster(static_cast<unsigned>(n)).apply(cfg);
      if (cudaOccupancyMaxActiveClusters(&c[n], kernel, &cfg) != cudaSuccess) {
        (void)cudaGetLastError();
        c[n] = 0;
      }
    }
    return c;
  }();
  return capacity;
}

// The cluster size to launch: the largest n <= wanted whose `clusters` clusters are all resident
// at once (a second wave would pay the whole prologue again), else the largest the device can
// launch at all.
inline int fit_cluster(const std::array<int, kClusterMaxSplits + 1>& capacity, int wanted,
                       std::int64_t clusters) {
  wanted = wanted < 1 ? 1 : wanted > kClusterMaxSplits ? kClusterMaxSplits : wanted;
  for (int n = wanted; n >= 1; --n)
    if (capacity[n] >= clusters) return n;
  for (int n = wanted; n >= 1; --n)
    if (capacity[n] >= 1) return n;
  return 1;
}

// The cluster size a launch takes: fit_cluster's, except that the 8-warp CTA (`_w8`, `_spec`)
// takes clusters of 8 instead of 9..15 when all of the grid's clusters of 8 are resident at once
// and the plan was made for at least kClustersOf8From keys (guess_len; 0: unknown, no change).
// Why (session 31, H200, calls c7-c11 on five cards, forced sizes alternating in each call):
// `_spec` at B=1, 32 / 8 heads, d128, in clusters of 8 took 22.3-22.85 µs at S=16384 on every
// card; in the 9 fit_cluster picks, 23.5-23.8 on three cards and 26.9 on two (the session 30
// "bimodal by call" time); S=8192 13.3-13.5 against 14.5-14.6, S=32768 36.9-37.8 against
// 38.3-39.0. At S=4096 clusters of 8 gained nothing (contiguous +0.1, paged16 +0.15 µs: c10,
// c11), hence the length floor. The other shapes measured keep the larger size: 4 warps a CTA
// (`_w4_spec` 26.9-27.0 in 9 against 28.4-28.6 in 8), two CTAs an SM (`_s2` 25.1-25.3 in 16
// against 29.0 in 8), and four clusters (32 / 4 heads: 16.3 in 16 against 18.9 in 8).
constexpr int kClustersOf8From = 8192;

template <int kWarps>
int launch_cluster_size(const std::array<int, kClusterMaxSplits + 1>& capacity, int wanted,
                        std::int64_t clusters, int guess_len) {
  const int n = fit_cluster(capacity, wanted, clusters);
  const bool eight = kWarps == 8 && n > 8 && n < kClusterMaxSplits && capacity[8] >= clusters &&
                     guess_len >= kClustersOf8From;
  return eight ? 8 : n;
}

inline int cluster_heads(const DecodeParams& p) {
  const int group = p.num_q_heads / p.cache.num_kv_heads;
  return p.cache.num_kv_heads * ((group + kMmaRows - 1) / kMmaRows);
}

template <class T, int D, int kWarps, int kMaxStages>
void launch_cluster_dim(const DecodeParams& p, cudaStream_t stream) {
  using S = ClusterShape<T, D, kWarps, kMaxStages>;
  const auto& capacity = cluster_capacity<T, D, kWarps, kMaxStages>();
  if (capacity[1] < 1) fail("decode_attention cluster: this device cannot launch the kernel");
  const int heads = cluster_heads(p);
  const int n = launch_cluster_size<kWarps>(capacity, p.max_splits, std::int64_t{heads} * p.batch,
                                            p.guess_len);
  DecodeParams q = p;
  q.max_splits = n;
  // The guess of the cut for n splits: the planned length's (p.guess_len), else the range the
  // plan guessed for its own count (which can round one 16-key tile past the actual cut).
  if (n != p.max_splits && p.chunk > 0)
    q.chunk = p.guess_len > 0
                  ? cluster_split(p.guess_len, n).chunk
                  : cluster_split(p.chunk * (p.max_splits < 1 ? 1 : p.max_splits), n).chunk;

  cudaLaunchConfig_t cfg = {};
  cfg.gridDim =
      dim3(static_cast<unsigned>(n), static_cast<unsigned>(heads), static_cast<unsigned>(p.batch));
  cfg.blockDim = dim3(S::kThreads);
  cfg.dynamicSmemBytes = S::kSmemBytes;
  cfg.stream = stream;
  LaunchAttrs attrs;
  attrs.pdl(true).cluster(static_cast<unsigned>(n)).apply(cfg);
  constexpr const char* what = "decode_attention mma cluster";
  check(cudaLaunchKernelEx(&cfg, decode_cluster_kernel<T, D, kWarps, kMaxStages>, q), what);
  check_launch(what);
}

// Explicitly instantiated per dtype and CTA shape in decode_cluster[_w8|_s2]_<dtype>.cu.
// The cluster size a launch of p takes (0: the device cannot launch the kernel).
template <class T, int kWarps, int kMaxStages>
int decode_cluster_size_typed(const DecodeParams& p) {
  const std::int64_t clusters = std::int64_t{cluster_heads(p)} * p.batch;
  auto size = [&](const std::array<int, kClusterMaxSplits + 1>& c) {
    return c[1] >= 1 ? launch_cluster_size<kWarps>(c, p.max_splits, clusters, p.guess_len) : 0;
  };
  switch (p.cache.head_dim) {
    case 64:
      return size(cluster_capacity<T, 64, kWarps, kMaxStages>());
    case 128:
      return size(cluster_capacity<T, 128, kWarps, kMaxStages>());
    case 256:
      return size(cluster_capacity<T, 256, kWarps, kMaxStages>());
    default:
      return 0;
  }
}

template <class T, int kWarps, int kMaxStages>
void launch_decode_cluster_typed(const DecodeParams& p, cudaStream_t stream) {
  switch (p.cache.head_dim) {
    case 64:
      return launch_cluster_dim<T, 64, kWarps, kMaxStages>(p, stream);
    case 128:
      return launch_cluster_dim<T, 128, kWarps, kMaxStages>(p, stream);
    case 256:
      return launch_cluster_dim<T, 256, kWarps, kMaxStages>(p, stream);
    default:
      fail("decode_attention cluster: head_dim must be 64, 128 or 256");
  }
}

}  // namespace klab::cuda::decode
