// How fast one launch can read one sequence's K/V cache, with no math: the floor under batch-1
// decode attention (bf16, 8 KV heads, d128, contiguous [S, Hkv, D] K and V) for ways of dealing
// the rows to CTAs. Issue 4 asks B=1 S=16384 at >= 80% of copy (67.1 MB in <= ~19.9 µs on the
// H200); `_spec` takes ~23.8 µs. Sessions 23-24 found the cluster kernel's stream at 86-87% of
// copy from 72 SMs with a ~5 µs intercept, and more SMs for the same per-head layout slower.
// Question here: is that the layout (each CTA reading one head's 256 bytes of every 2 KiB token
// row, the other heads' bytes of the same rows read by 8 other SMs at their own pace) or the
// launch? Styles, every one 1 CTA an SM, PDL wait before the first copy:
//   per_head/N[cK]: grid (N, 8): CTA (i, h) reads head h of the i-th of N token ranges; its warps
//                   take 16-token tiles in turn (the cluster kernel's deal); cK = clusters of K
//                   (the decode's placement: 8 clusters of 9 = 72 SMs).
//   all_heads/N:    grid N: CTA c reads every head of the c-th token range; warp w streams the
//                   (tile, head) items w, w + W, ... (8 warps: warp w = head w), so a CTA's
//                   reads at any moment are whole 2 KiB rows.
//   bulk/N:         grid N: CTA c streams its range's K bytes and V bytes (each contiguous) by
//                   16 KiB cp.async.bulk copies through a 6-stage mbarrier ring: memcpy's pattern.
// Groups (argv[1]): layout (s30 c1), math (c2), extra (c3), merge (c5-c7, c14), lazy (c11),
// prologue (s31 c1: `_spec`'s prologue pieces added to the tile math and push merge, kPrologue),
// wide / wide2 (s31 c1 / c2: the two-level merge of 128- and 96-SM deals, kStop 5 / 6), copies
// (s31 c3: the kernel's copy deal and cp.async form) and gpc (s31 c8: one cluster a head of
// 9 / 8 / 7 / 6 CTAs).
// Ring styles: per warp a cp.async ring of `stages` tiles (K 16 x 256 B + V 16 x 256 B), each
// lane reading back the chunks it copied, or ("math") the warp running the decode's tile math on
// each staged tile (TileMath: the cluster kernel's MMAs, softmax step and ldmatrix reads; its
// bookkeeping, prologue and merges left out). s30 c1 (H200, no math): per_head/9c9 17.54 µs at
// S=16384 against `_spec`'s 24.03 in the same call; c2 asks whether the tile math is the rest.
// Every byte is read (XOR into a sink). Timed as `klab bench` times: CUDA graphs of 32 back-to-back
// PDL launches, median of replays, each launch a fresh part of a 4 GiB pool. Rows: µs a launch and
// % of the same run's D2D copy (read + write bytes / time, as klab's ceiling) at S = 4096, 16384,
// 32768.
//
// Build and run (standalone, no klab libraries):
//   nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
//   [PROBE_RANDOM=1] [PROBE_SETS=n] /tmp/stream_pattern GROUP [S,...]
// with GROUP one of layout, math, extra, merge, lazy, prologue, wide, wide2, copies, gpc, one.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "graph_timing.cuh"
#include "probe_ptx.cuh"

namespace {

using namespace probe;  // graph_timing.cuh and probe_ptx.cuh

constexpr int kHeads = 8;
constexpr int kRowBytes = 256;                   // d128 bf16
constexpr int kTokenBytes = kHeads * kRowBytes;  // one token's K (or V) row, all heads
constexpr int kTileKeys = 16;
constexpr int kTileBytes = kTileKeys * kRowBytes;  // K (or V) of one head's tile
constexpr std::size_t kPool = std::size_t{4} << 30;
constexpr int kLaunches = 32;
constexpr int kMinSmem = 143744;  // `_spec`'s: one CTA an SM
// The sink buffer: words the kernels write (0..63 bytes), the merge's output rows (from 64), the
// sequence length kPrologue & 1 reads, the q rows kPrologue & 2 reads.
constexpr std::size_t kSinkBytes = 64 * 1024, kLenOffset = 16 * 1024, kQOffset = 32 * 1024;
constexpr int kQSmemBytes = 16 * kRowBytes;  // Q as the MMA's A tile: 16 rows, 4 of them heads

// ---- the decode's tile math (`kMath`) ---------------------------------------------------------
// What the cluster decode does with a staged 16-key tile (decode_cluster.cuh's loop, without its
// bookkeeping): S = Q K^T as 8 k-steps x 2 key n-tiles of mma.m16n8k16 (Q in registers), the
// online-softmax step of rows 0..7 (rows 8..15 hold no head at GQA 4), P re-packed as the A
// fragment, O += P V as 8 ldmatrix.trans x 2 n-tiles. Staged rows are 256 bytes, chunk c of row
// r at chunk (c ^ (r % 8)) (the ldmatrix reads are conflict-free, as the kernel's swizzle).
__device__ __forceinline__ void ldsm_x4(std::uint32_t (&r)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(std::uint32_t (&r)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void mma_bf16(float (&d)[4], const std::uint32_t (&a)[4],
                                         std::uint32_t b0, std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ std::uint32_t pack_bf16(float lo, float hi) {
  std::uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * 16 + (chunk ^ (row % 8));
}

// A uniform float in [-1, 1) from an index (random data for PROBE_RANDOM=1 and Q).
__host__ __device__ inline float hash_unit(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return static_cast<float>(x >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

__global__ void fill_bf16_random(std::uint32_t* words, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const auto j = static_cast<std::uint32_t>(i);
    words[i] = pack_bf16(hash_unit(2 * j), hash_unit(2 * j + 1));
  }
}

// kLazy: O and the sum are rescaled only when a row's max rose more than kLazyLog2 (log2 units)
// above the max they are relative to (P <= 2^kLazyLog2 then): the same result, since the sum is
// kept relative to the same max; most tiles of a long range then skip the rescale.
constexpr float kLazyLog2 = 8.0f;

template <bool kLazy>
struct TileMath {
  std::uint32_t q[8][4];
  float o[16][4] = {};
  float row_max = -INFINITY, row_sum = 0.0f;

  __device__ explicit TileMath(int lane) {  // q in [-2, 2), as klab bench fills it
#pragma unroll
    for (int kk = 0; kk < 8; ++kk)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const std::uint32_t i = (lane * 8 + kk) * 8 + 2 * e;
        q[kk][e] = pack_bf16(2.0f * hash_unit(i), 2.0f * hash_unit(i + 1));
      }
  }
  // Q's fragments from a staged [16 rows][128] tile (swz), as the decode kernel loads them.
  __device__ __forceinline__ void load_q(std::uint32_t q_s, int lane) {
#pragma unroll
    for (int kk = 0; kk < 8; ++kk) ldsm_x4(q[kk], q_s + 16 * swz(lane % 16, kk * 2 + lane / 16));
  }
  __device__ __forceinline__ void tile(std::uint32_t k_s, std::uint32_t v_s, int lane) {
    constexpr float kScaleLog2 = 0.08838835f * 1.44269504f;  // 1 / sqrt(128), log2 units
    float s[2][4] = {};
#pragma unroll
    for (int kk = 0; kk < 8; ++kk) {
      std::uint32_t r[4];
      ldsm_x4(r, k_s + 16 * swz(lane % 8 + (lane / 16) * 8, kk * 2 + (lane / 8) % 2));
      mma_bf16(s[0], q[kk], r[0], r[1]);
      mma_bf16(s[1], q[kk], r[2], r[3]);
    }
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] *= kScaleLog2;
    float mx = fmaxf(row_max, fmaxf(fmaxf(s[0][0], s[0][1]), fmaxf(s[1][0], s[1][1])));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    if (kLazy && mx <= row_max + kLazyLog2) mx = row_max;  // keep the stale max
    const float alpha = exp2f(row_max - mx);
    row_max = mx;
    float sum = 0.0f;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
      s[nt][0] = exp2f(s[nt][0] - mx);
      s[nt][1] = exp2f(s[nt][1] - mx);
      s[nt][2] = s[nt][3] = 0.0f;
      sum += s[nt][0] + s[nt][1];
    }
    row_sum = row_sum * alpha + sum;
    if (__any_sync(0xffffffffu, alpha != 1.0f))
#pragma unroll
      for (int nt = 0; nt < 16; ++nt) {
        o[nt][0] *= alpha;
        o[nt][1] *= alpha;
      }
    const std::uint32_t a[4] = {pack_bf16(s[0][0], s[0][1]), pack_bf16(s[0][2], s[0][3]),
                                pack_bf16(s[1][0], s[1][1]), pack_bf16(s[1][2], s[1][3])};
#pragma unroll
    for (int dp = 0; dp < 8; ++dp) {
      std::uint32_t r[4];
      ldsm_x4_t(r, v_s + 16 * swz(lane % 8 + ((lane / 8) % 2) * 8, dp * 2 + lane / 16));
      mma_bf16(o[2 * dp], a, r[0], r[1]);
      mma_bf16(o[2 * dp + 1], a, r[2], r[3]);
    }
  }
  __device__ unsigned digest() const {
    float x = row_sum;
#pragma unroll
    for (int nt = 0; nt < 16; ++nt) x += o[nt][0] + o[nt][1];
    return __float_as_uint(x);
  }
};

// ---- ring styles ------------------------------------------------------------------------------
struct Work {
  int first_tile, tiles;  // this CTA's token tiles
  int head;               // per_head: its head; all_heads: -1
};

template <bool kAllHeads>
__device__ __forceinline__ Work cta_work(int total_tiles) {
  const int n = static_cast<int>(gridDim.x), c = static_cast<int>(blockIdx.x);
  const int t0 = static_cast<int>(static_cast<long long>(total_tiles) * c / n);
  const int t1 = static_cast<int>(static_cast<long long>(total_tiles) * (c + 1) / n);
  return {t0, t1 - t0, kAllHeads ? -1 : static_cast<int>(blockIdx.y)};
}

// ---- the decode's epilogue (`kMerge`)
// ------------------------------------------------------------ decode_cluster.cuh's end of a CTA,
// on TileMath's state (GQA 4: head rows 0..3): the warps' O rows, maxes and sums meet in shared
// memory (two block barriers), 64 threads fold the 8 warps into the CTA's state in an export area,
// one cluster barrier (release / acquire), then merge_cluster's pass (16 lanes an output chunk, one
// a source CTA, read through distributed shared memory, shuffle-reduced, 16 bytes stored) and a
// relaxed cluster barrier before exit.
__device__ __forceinline__ std::uint32_t cluster_map(std::uint32_t addr, int rank) {
  std::uint32_t r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(addr), "r"(rank));
  return r;
}
__device__ __forceinline__ float ld_cluster(std::uint32_t addr) {
  float v;
  asm volatile("ld.shared::cluster.f32 %0, [%1];\n" : "=f"(v) : "r"(addr) : "memory");
  return v;
}

// The push merge (kStop 4): output chunk `item` belongs to CTA item % n; every CTA stores its
// state of each chunk (8 O values, max, sum) into the owner's receive area by distributed shared
// memory *before* the one cluster barrier, so after it each owner merges from its own shared
// memory and nothing is read remotely, and no second barrier keeps a CTA alive for readers.
__device__ __forceinline__ void st_cluster_v4(std::uint32_t addr, float4 v) {
  asm volatile("st.shared::cluster.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "f"(v.x),
               "f"(v.y), "f"(v.z), "f"(v.w)
               : "memory");
}
__device__ __forceinline__ void st_cluster_v2(std::uint32_t addr, float a, float b) {
  asm volatile("st.shared::cluster.v2.f32 [%0], {%1, %2};\n" ::"r"(addr), "f"(a), "f"(b)
               : "memory");
}

// `lanes` consecutive lanes (a power of two) holding states (max mx, 8 O values and the sum in
// v) meet; every lane ends with the merged unnormalised state relative to the returned max.
__device__ __forceinline__ float fold_lanes(int lanes, float mx, float (&v)[9], bool active) {
  float gm = active ? mx : -INFINITY;
  for (int off = lanes / 2; off > 0; off /= 2)
    gm = fmaxf(gm, __shfl_xor_sync(0xffffffffu, gm, off));
  const float w = active ? exp2f(mx - gm) : 0.0f;
#pragma unroll
  for (int e = 0; e < 9; ++e) v[e] *= w;
  for (int off = lanes / 2; off > 0; off /= 2)
#pragma unroll
    for (int e = 0; e < 9; ++e) v[e] += __shfl_xor_sync(0xffffffffu, v[e], off);
  return gm;
}

// kLanes consecutive lanes, one a source's state of one output chunk (max, 8 O values and the sum
// in v), meet by shuffles; the first lane's result is the merged chunk, normalised and packed.
template <int kLanes>
__device__ __forceinline__ uint4 merge_lanes(float mx, float (&v)[9], bool active) {
  fold_lanes(kLanes, mx, v, active);
  const float inv = v[8] > 0.0f ? 1.0f / v[8] : 0.0f;
  return make_uint4(pack_bf16(v[0] * inv, v[1] * inv), pack_bf16(v[2] * inv, v[3] * inv),
                    pack_bf16(v[4] * inv, v[5] * inv), pack_bf16(v[6] * inv, v[7] * inv));
}

// Each of the first 64 threads stores its CTA's state of one output chunk (export rows eo, emax,
// esum: 4 heads x 128) into the receive area of the chunk's owner (chunk % n) at entry
// (chunk / n) * lanes + rank, then one cluster barrier (release / acquire).
__device__ __forceinline__ void push_states(const float* eo, const float* emax, const float* esum,
                                            float* recv, int lanes, int n, int rank) {
  constexpr int kD = 128, kChunks = kD / 8, kItems = 4 * kChunks, kSlotFloats = 12;
  const int tid = static_cast<int>(threadIdx.x);
  if (tid < kItems) {
    const int r = tid / kChunks, c = tid % kChunks, owner = tid % n, slot = tid / n;
    const std::uint32_t dst =
        cluster_map(smem_u32(recv + (slot * lanes + rank) * kSlotFloats), owner);
    const float* src = eo + r * kD + c * 8;
    st_cluster_v4(dst, make_float4(src[0], src[1], src[2], src[3]));
    st_cluster_v4(dst + 16, make_float4(src[4], src[5], src[6], src[7]));
    st_cluster_v2(dst + 32, emax[r], esum[r]);
  }
  asm volatile("barrier.cluster.arrive.release.aligned;\n" ::: "memory");
  asm volatile("barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}

__device__ void push_merge(const float* eo, const float* emax, const float* esum,
                           std::uint8_t* recv_mem, unsigned* out) {
  constexpr int kRows = 4, kD = 128, kChunks = kD / 8, kItems = kRows * kChunks, kLanes = 16;
  constexpr int kSlotFloats = 12;  // 8 O values, max, sum, 2 pad: 48 bytes
  const int tid = static_cast<int>(threadIdx.x), n = static_cast<int>(gridDim.x);
  const int rank = static_cast<int>(blockIdx.x);
  float* recv = reinterpret_cast<float*>(recv_mem);  // [slot][source kLanes][kSlotFloats]
  __syncthreads();                                   // the export rows are written
  push_states(eo, emax, esum, recv, kLanes, n, rank);
  const int slot = tid / kLanes, src = tid % kLanes, item = rank + n * slot;
  if (slot * n >= kItems) return;  // whole warps past this CTA's chunks
  const bool active = item < kItems && src < n;
  const float* in = recv + (slot * kLanes + src) * kSlotFloats;
  float v[9];
#pragma unroll
  for (int e = 0; e < 8; ++e) v[e] = active ? in[e] : 0.0f;
  v[8] = active ? in[9] : 0.0f;
  const uint4 o = merge_lanes<kLanes>(active ? in[8] : -INFINITY, v, active);
  if (src == 0 && item < kItems) reinterpret_cast<uint4*>(out)[blockIdx.y * kItems + item] = o;
}

// The two-level merge (kStop 5, s31): a head's range dealt to `groups` clusters of n CTAs (grid x
// = groups * n). Inside a cluster the push merge as kStop 4 (n > 1), each owner's merged chunks
// (unnormalised, with their max and sum) then go to a global partial [head][item][group]; a
// counter per (head, owner rank) counts the groups' arrivals (fence, atomic) and the last to
// arrive merges the `groups` partials of its chunks (L2 reads) and writes them, then resets the
// counter. The 128-SM deal with clusters of 2 (16 CTAs a head) is the design session 30 budgeted.
constexpr int kMaxGroups = 32;
__device__ float g_partials[kHeads * 64 * kMaxGroups * 12];
__device__ unsigned g_counters[kHeads * 16];

__device__ __forceinline__ int cluster_size() {
  unsigned r;
  asm("mov.u32 %0, %%cluster_nctarank;\n" : "=r"(r));
  return static_cast<int>(r);
}
__device__ __forceinline__ int cluster_rank() {
  unsigned r;
  asm("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return static_cast<int>(r);
}
__device__ __forceinline__ int pow2_at_least(int n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

// kAcqRel (kStop 6): the arrival is one atom.add.acq_rel.gpu after the block barrier (release:
// cumulative over the partial stores the barrier ordered; acquire: the last group's reads see
// the others'), instead of __threadfence (fence.sc.gpu), the atomic and a second fence.
__device__ __forceinline__ unsigned atom_add_acq_rel(unsigned* addr, unsigned v) {
  unsigned old;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;\n"
               : "=r"(old)
               : "l"(addr), "r"(v)
               : "memory");
  return old;
}

template <bool kAcqRel>
__device__ void two_level_merge(const float* eo, const float* emax, const float* esum,
                                std::uint8_t* recv_mem, unsigned* out) {
  constexpr int kRows = 4, kD = 128, kChunks = kD / 8, kItems = kRows * kChunks, kSlotFloats = 12;
  __shared__ int s_last;
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  const int n = cluster_size(), rank = cluster_rank();
  const int groups = static_cast<int>(gridDim.x) / n, group = static_cast<int>(blockIdx.x) / n;
  const int head = static_cast<int>(blockIdx.y), lanes = pow2_at_least(n);
  float* recv = reinterpret_cast<float*>(recv_mem);  // [slot][source lanes][kSlotFloats]
  __syncthreads();                                   // the export rows are written
  if (n > 1) push_states(eo, emax, esum, recv, lanes, n, rank);
  const int owned = (kItems - rank + n - 1) / n;
  const int per_pass = threads / lanes, src = tid % lanes;
  for (int first = 0; first < owned; first += per_pass) {
    const int slot = first + tid / lanes, item = rank + n * slot;
    const bool active = slot < owned && src < n;
    float v[9] = {}, mx = -INFINITY;
    if (active) {
      const int r = item / kChunks, c = item % kChunks;
      const float* in = n > 1 ? recv + (slot * lanes + src) * kSlotFloats : nullptr;
#pragma unroll
      for (int e = 0; e < 8; ++e) v[e] = n > 1 ? in[e] : eo[r * kD + c * 8 + e];
      mx = n > 1 ? in[8] : emax[r];
      v[8] = n > 1 ? in[9] : esum[r];
    }
    const float gm = fold_lanes(lanes, mx, v, active);
    if (src == 0 && slot < owned) {
      float4* dst = reinterpret_cast<float4*>(
          g_partials + ((head * kItems + item) * kMaxGroups + group) * kSlotFloats);
      dst[0] = make_float4(v[0], v[1], v[2], v[3]);
      dst[1] = make_float4(v[4], v[5], v[6], v[7]);
      dst[2] = make_float4(gm, v[8], 0.0f, 0.0f);
    }
  }
  __syncthreads();
  if (tid == 0) {
    unsigned* counter = &g_counters[head * 16 + rank];
    if constexpr (kAcqRel) {
      s_last = atom_add_acq_rel(counter, 1u) == static_cast<unsigned>(groups - 1);
    } else {
      __threadfence();
      s_last = atomicAdd(counter, 1u) == static_cast<unsigned>(groups - 1);
    }
  }
  __syncthreads();
  if (!s_last) return;
  if constexpr (!kAcqRel) __threadfence();
  const int glanes = pow2_at_least(groups), gpass = threads / glanes, g = tid % glanes;
  for (int first = 0; first < owned; first += gpass) {
    const int slot = first + tid / glanes, item = rank + n * slot;
    const bool active = slot < owned && g < groups;
    float v[9] = {}, mx = -INFINITY;
    if (active) {
      const float4* in = reinterpret_cast<const float4*>(
          g_partials + ((head * kItems + item) * kMaxGroups + g) * kSlotFloats);
      const float4 a = __ldcg(in), b = __ldcg(in + 1), c = __ldcg(in + 2);
      v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z;
      v[7] = b.w, mx = c.x, v[8] = c.y;
    }
    fold_lanes(glanes, mx, v, active);
    if (g == 0 && slot < owned) {
      const float inv = v[8] > 0.0f ? 1.0f / v[8] : 0.0f;
      reinterpret_cast<uint4*>(out)[head * kItems + item] =
          make_uint4(pack_bf16(v[0] * inv, v[1] * inv), pack_bf16(v[2] * inv, v[3] * inv),
                     pack_bf16(v[4] * inv, v[5] * inv), pack_bf16(v[6] * inv, v[7] * inv));
    }
  }
  if (tid == 0) g_counters[head * 16 + rank] = 0u;
}

// kStop: 1 = only the warp merge in shared memory, 2 = and both cluster barriers (no DSMEM
// reads), 3 = all of it, 4 = the warp merge and then push_merge instead.
template <int kWarps, int kStop, class Math>
__device__ void merge_epilogue(const Math& m, std::uint8_t* smem, std::uint8_t* recv,
                               unsigned* out) {
  constexpr int kRows = 4, kD = 128, kStride = kD + 4, kChunks = kD / 8;
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  float* mo = reinterpret_cast<float*>(smem);
  float* mmax = mo + kWarps * 16 * kStride;
  float* msum = mmax + kWarps * 16;
  float* eo = msum + kWarps * 16;  // export: O [kRows][kD], max [kRows], sum [kRows]
  float* emax = eo + kRows * kD;
  float* esum = emax + kRows;
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
  __syncthreads();  // the rings are free
  float sum = m.row_sum;
  sum += __shfl_xor_sync(0xffffffffu, sum, 1);
  sum += __shfl_xor_sync(0xffffffffu, sum, 2);
  const int row = lane / 4;
  if (row < kRows) {
    float* dst = mo + (warp * 16 + row) * kStride + (lane % 4) * 2;
#pragma unroll
    for (int nt = 0; nt < 16; ++nt)
      *reinterpret_cast<float2*>(dst + nt * 8) = make_float2(m.o[nt][0], m.o[nt][1]);
    if (lane % 4 == 0) {
      mmax[warp * 16 + row] = m.row_max;
      msum[warp * 16 + row] = sum;
    }
  }
  __syncthreads();
  if (tid < kRows * kChunks) {
    const int r = tid / kChunks, c = tid % kChunks;
    float mx = -INFINITY;
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, mmax[w * 16 + r]);
    float total = 0.0f, acc[8] = {};
    for (int w = 0; w < kWarps; ++w) {
      const float wt = exp2f(mmax[w * 16 + r] - mx);
      total += wt * msum[w * 16 + r];
      const float* src = mo + (w * 16 + r) * kStride + c * 8;
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[e] = fmaf(wt, src[e], acc[e]);
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) eo[r * kD + c * 8 + e] = acc[e];
    if (c == 0) {
      emax[r] = mx;
      esum[r] = total;
    }
  }
  if constexpr (kStop == 4) {
    push_merge(eo, emax, esum, recv, out);
    return;
  }
  if constexpr (kStop == 5 || kStop == 6) {
    two_level_merge<kStop == 6>(eo, emax, esum, recv, out);
    return;
  }
  if constexpr (kStop == 1) {
    if (tid == 0) out[blockIdx.x + 16 * blockIdx.y] = __float_as_uint(eo[0]);
    return;
  }
  asm volatile("barrier.cluster.arrive.release.aligned;\n" ::: "memory");
  asm volatile("barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
  if constexpr (kStop == 2) {
    if (tid == 0) out[blockIdx.x + 16 * blockIdx.y] = __float_as_uint(eo[0]);
    asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
    asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
    return;
  }
  constexpr int kLanes = 16;  // >= the 9 CTAs
  const int count = static_cast<int>(gridDim.x), src = tid % kLanes;
  const std::uint32_t remote =
      cluster_map(static_cast<std::uint32_t>(__cvta_generic_to_shared(eo)), src < count ? src : 0);
  const int per_cta = kWarps * 32 / kLanes;
  for (int first = static_cast<int>(blockIdx.x) * per_cta; first < kRows * kChunks;
       first += count * per_cta) {
    const int item = first + tid / kLanes, r = item / kChunks, c = item % kChunks;
    const bool active = item < kRows * kChunks && src < count;
    const float mx = active ? ld_cluster(remote + 4 * (kRows * kD + r)) : -INFINITY;
    const float l = active ? ld_cluster(remote + 4 * (kRows * kD + kRows + r)) : 0.0f;
    float v[9];
#pragma unroll
    for (int e = 0; e < 8; ++e)
      v[e] = active ? ld_cluster(remote + 4 * (r * kD + c * 8 + e)) : 0.0f;
    v[8] = l;
    const uint4 o = merge_lanes<kLanes>(mx, v, active);
    if (src == 0 && item < kRows * kChunks)
      reinterpret_cast<uint4*>(out)[blockIdx.y * kRows * kChunks + item] = o;
  }
  asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
  asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
}

// kExtra opaque IMADs a tile (4 independent chains seeded by the running digest, so ptxas cannot
// hoist them out of the loop) stand for the kernel's bookkeeping: the cluster decode's key loop
// is 671 SASS instructions against TileMath's 326.
template <int kExtra>
__device__ __forceinline__ unsigned extra_work(unsigned seed, int lane) {
  unsigned x[4] = {seed, seed + 1u, seed + 2u, seed + 3u};
#pragma unroll
  for (int j = 0; j < kExtra / 4; ++j)
#pragma unroll
    for (int c = 0; c < 4; ++c)
      asm volatile("mad.lo.u32 %0, %0, %0, %1;\n" : "+r"(x[c]) : "r"(lane));
  return x[0] ^ x[1] ^ x[2] ^ x[3];
}

// kPrologue & 8 (s31): the copies in the kernel's form, cp.async with a source-size operand
// (zero-fill when invalid; always valid here), instead of the plain 16-byte form.
template <bool kZfill>
__device__ __forceinline__ void copy16(std::uint32_t dst, const void* src) {
  if constexpr (kZfill) {
    const int valid_bytes = 16;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
                 "r"(valid_bytes)
                 : "memory");
  } else {
    cp_async16(dst, src);
  }
}

// kPrologue (bits), pieces of the decode's prologue (s30, for a next session): 1 = the warps'
// tile counts from a sequence length read from global memory before the PDL wait (indices_ready),
// the first copies issued from the guess (total_tiles) before it arrives, as `_spec` does;
// 2 = Q's 4 head rows from global memory after the wait, through shared memory (a block barrier)
// into the TileMath registers by ldmatrix, instead of constants; 4 (s31) = the kernel's copy deal
// (a lane copies chunks lane % 8 and lane % 8 + 8 of rows lane / 8 + 4 r, RingCopier) instead of
// chunks lane + 32 j of the tile; 8 = copy16's zero-fill form.
template <int kWarps, int kStages, bool kAllHeads, int kMath, int kExtra, int kMerge,
          int kPrologue = 0>
__global__ void __launch_bounds__(kWarps * 32, 1)
    ring_kernel(const std::uint8_t* __restrict__ k, const std::uint8_t* __restrict__ v,
                int total_tiles, unsigned* sink) {
  extern __shared__ __align__(128) std::uint8_t ring[];
  pdl_trigger();
  const auto* sink_bytes = reinterpret_cast<const std::uint8_t*>(sink);
  int len = 0;
  if constexpr ((kPrologue & 1) != 0)
    len = *reinterpret_cast<const volatile int*>(sink_bytes + kLenOffset);
  pdl_wait();
  const Work w = cta_work<kAllHeads>(total_tiles);
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int guessed_items = kAllHeads ? w.tiles * kHeads : w.tiles;
  int mine = guessed_items > warp ? (guessed_items - warp + kWarps - 1) / kWarps : 0;
  std::uint8_t* my_ring = ring + warp * kStages * 2 * kTileBytes;
  const auto issue = [&](int i) {  // the warp's i-th item into stage i % kStages
    const int item = warp + i * kWarps;
    const int tile = w.first_tile + (kAllHeads ? item / kHeads : item);
    const int head = kAllHeads ? item % kHeads : w.head;
    const std::size_t base = static_cast<std::size_t>(tile) * kTileKeys * kTokenBytes +
                             static_cast<std::size_t>(head) * kRowBytes;
    std::uint8_t* stage = my_ring + (i % kStages) * 2 * kTileBytes;
    if constexpr ((kPrologue & 4) != 0) {  // the kernel's deal: rows lane / 8 + 4 r, chunks
#pragma unroll                             // lane % 8 + 8 j (RingCopier)
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int row = lane / 8 + 4 * r, col = lane % 8 + 8 * j;
          const std::size_t off = base + static_cast<std::size_t>(row) * kTokenBytes + col * 16;
          const int at = swz(row, col);
          copy16<(kPrologue & 8) != 0>(smem_u32(stage + at * 16), k + off);
          copy16<(kPrologue & 8) != 0>(smem_u32(stage + kTileBytes + at * 16), v + off);
        }
    } else {
#pragma unroll
      for (int j = 0; j < kTileBytes / 16 / 32; ++j) {
        const int chunk = lane + 32 * j, row = chunk / 16, col = chunk % 16;
        const std::size_t off = base + static_cast<std::size_t>(row) * kTokenBytes + col * 16;
        const int at = kMath ? swz(row, col) : chunk;
        copy16<(kPrologue & 8) != 0>(smem_u32(stage + at * 16), k + off);
        copy16<(kPrologue & 8) != 0>(smem_u32(stage + kTileBytes + at * 16), v + off);
      }
    }
  };
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < mine) issue(s);
    cp_commit();
  }
  unsigned acc = 0;
  TileMath<kMath == 2> math(lane);
  if constexpr ((kPrologue & 2) != 0) {
    constexpr int kRingBytes = kWarps * kStages * 2 * kTileBytes + (kMerge >= 4 ? 8 * 1024 : 0);
    std::uint8_t* q_tile = ring + kRingBytes;
    for (int c = static_cast<int>(threadIdx.x); c < 16 * 16; c += kWarps * 32) {
      const int row = c / 16, col = c % 16;
      const uint4 x = row < 4 ? *reinterpret_cast<const uint4*>(sink_bytes + kQOffset + c * 16)
                              : make_uint4(0u, 0u, 0u, 0u);
      *reinterpret_cast<uint4*>(q_tile + 16 * swz(row, col)) = x;
    }
    __syncthreads();
    math.load_q(smem_u32(q_tile), lane);
  }
  if constexpr ((kPrologue & 1) != 0) {  // the length's cut; the guess above must agree
    const Work actual = cta_work<kAllHeads>(len / kTileKeys);
    const int items = kAllHeads ? actual.tiles * kHeads : actual.tiles;
    mine = items > warp ? (items - warp + kWarps - 1) / kWarps : 0;
  }
  for (int i = 0; i < mine; ++i) {
    if (i + kStages - 1 < mine) issue(i + kStages - 1);
    cp_commit();
    cp_wait<kStages - 1>();
    const std::uint8_t* stage = my_ring + (i % kStages) * 2 * kTileBytes;
    if constexpr (kMath > 0) {
      __syncwarp();  // every lane's copies of the tile are visible to the warp
      math.tile(smem_u32(stage), smem_u32(stage + kTileBytes), lane);
      if constexpr (kExtra > 0) acc = extra_work<kExtra>(acc + i, lane);
      __syncwarp();  // the tile is read before any lane refills its stage
    } else {
#pragma unroll
      for (int j = 0; j < 2 * kTileBytes / 16 / 32; ++j) {
        const uint4 x = *reinterpret_cast<const uint4*>(stage + (lane + 32 * j) * 16);
        acc ^= x.x ^ x.y ^ x.z ^ x.w;
      }
    }
  }
  if constexpr (kMerge > 0) {
    // push_merge's receive area lies past the rings: other CTAs may store into it while this
    // one still streams
    merge_epilogue<kWarps, kMerge>(math, ring, ring + kWarps * kStages * 2 * kTileBytes, sink + 16);
    return;
  }
  if (kMath > 0) acc ^= math.digest();
  if (acc == 0x12345678u) sink[0] = acc;
}

// ---- bulk style -------------------------------------------------------------------------------
constexpr int kBulkThreads = 128, kBulkStages = 6, kBulkStage = 16 * 1024;

// CTA c: tokens of the c-th range; stage s copies the (s / 2)-th 16 KiB of that range's K (s even)
// or V (s odd).
__global__ void __launch_bounds__(kBulkThreads, 1)
    bulk_kernel(const std::uint8_t* __restrict__ k, const std::uint8_t* __restrict__ v,
                int total_tiles, unsigned* sink) {
  extern __shared__ __align__(128) std::uint8_t stage_mem[];
  __shared__ __align__(8) std::uint64_t full[kBulkStages];
  pdl_trigger();
  const Work w = cta_work<true>(total_tiles);
  const std::size_t begin = static_cast<std::size_t>(w.first_tile) * kTileKeys * kTokenBytes;
  const std::size_t bytes = static_cast<std::size_t>(w.tiles) * kTileKeys * kTokenBytes;
  const int stages = 2 * static_cast<int>((bytes + kBulkStage - 1) / kBulkStage);
  const std::uint32_t mem_s = smem_u32(stage_mem), full_s = smem_u32(full);
  const auto stage_bytes = [&](int s) {
    const std::size_t off = std::size_t{static_cast<unsigned>(s / 2)} * kBulkStage;
    return static_cast<unsigned>(bytes - off < kBulkStage ? bytes - off : kBulkStage);
  };
  const auto issue = [&](int s) {  // thread 0
    const std::size_t off = begin + std::size_t{static_cast<unsigned>(s / 2)} * kBulkStage;
    const unsigned n = stage_bytes(s);
    const std::uint32_t bar = full_s + (s % kBulkStages) * 8;
    mbar_expect(bar, n);
    bulk_copy(mem_s + (s % kBulkStages) * kBulkStage, (s % 2 ? v : k) + off, n, bar);
  };
  if (threadIdx.x == 0) {
    for (int s = 0; s < kBulkStages; ++s) mbar_init(full_s + s * 8, 1);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  pdl_wait();
  if (threadIdx.x == 0)
    for (int s = 0; s < kBulkStages && s < stages; ++s) issue(s);
  unsigned acc = 0;
  for (int s = 0; s < stages; ++s) {
    mbar_wait(full_s + (s % kBulkStages) * 8, (s / kBulkStages) & 1);
    const std::uint8_t* stage = stage_mem + (s % kBulkStages) * kBulkStage;
    acc ^= xor_words(stage, static_cast<int>(stage_bytes(s)));
    __syncthreads();  // every thread is done with the stage before it is refilled
    if (threadIdx.x == 0 && s + kBulkStages < stages) {
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
      issue(s + kBulkStages);
    }
  }
  if (acc == 0x12345678u) sink[0] = acc;
}

// ---- launching and timing ---------------------------------------------------------------------
using Kernel = void (*)(const std::uint8_t*, const std::uint8_t*, int, unsigned*);

struct Style {
  std::string name;
  Kernel kernel;
  int threads;
  int smem;
  dim3 grid;
  int cluster;  // 0: none
};

// µs a launch: kLaunches back-to-back PDL launches, each a fresh part of the pool.
double time_style(const Style& st, int seq_len, std::uint8_t* pool, unsigned* sink,
                  cudaStream_t stream) {
  check(cudaFuncSetAttribute(st.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, st.smem),
        "smem attribute");
  if (st.cluster > 8)
    check(cudaFuncSetAttribute(st.kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1),
          "cluster size attribute");
  cudaLaunchAttribute attrs[2] = {};
  attrs[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attrs[0].val.programmaticStreamSerializationAllowed = 1;
  attrs[1].id = cudaLaunchAttributeClusterDimension;
  attrs[1].val.clusterDim.x = st.cluster;
  attrs[1].val.clusterDim.y = 1;
  attrs[1].val.clusterDim.z = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = st.grid;
  cfg.blockDim = dim3(st.threads);
  cfg.dynamicSmemBytes = st.smem;
  cfg.stream = stream;
  cfg.attrs = attrs;
  cfg.numAttrs = st.cluster > 0 ? 2 : 1;
  const std::size_t half = static_cast<std::size_t>(seq_len) * kTokenBytes;  // K (or V)
  const std::size_t parts = kPool / (2 * half);
  check(cudaMemcpy(reinterpret_cast<std::uint8_t*>(sink) + kLenOffset, &seq_len, sizeof(int),
                   cudaMemcpyHostToDevice),
        "length");  // what kPrologue & 1 reads
  const int total_tiles = seq_len / kTileKeys;
  // PROBE_SETS=n: n sets of K and V, each its own cudaMalloc of exactly `half` bytes, in turn
  // (as `klab bench decode-attn` allocates and rotates them), instead of parts of the pool.
  const char* sets_env = std::getenv("PROBE_SETS");
  const int sets = sets_env ? std::atoi(sets_env) : 0;
  std::vector<std::uint8_t*> own(2 * static_cast<std::size_t>(sets), nullptr);
  for (std::uint8_t*& b : own) {
    check(cudaMalloc(&b, half), "malloc set");
    check(cudaMemset(b, 1, half), "fill set");
  }
  const double us = probe::median_replay_us(
      stream,
      [&] {
        for (int i = 0; i < kLaunches; ++i) {
          const std::uint8_t* k = pool + (i % parts) * 2 * half;
          const std::uint8_t* v = k + half;
          if (sets > 0) {
            k = own[2 * (i % sets)];
            v = own[2 * (i % sets) + 1];
          }
          check(cudaLaunchKernelEx(&cfg, st.kernel, k, v, total_tiles, sink), "launch");
        }
      },
      15);
  for (std::uint8_t* b : own) check(cudaFree(b), "free set");
  return us / kLaunches;
}

double copy_gbps(std::uint8_t* pool, cudaStream_t stream) {
  const std::size_t bytes = std::size_t{1} << 30;
  const double us = probe::median_replay_us(
      stream,
      [&] {
        check(cudaMemcpyAsync(pool + bytes, pool, bytes, cudaMemcpyDeviceToDevice, stream), "copy");
      },
      15);
  return 2.0 * static_cast<double>(bytes) / (us * 1e-6) / 1e9;
}

template <int kWarps, int kStages, bool kAllHeads, int kMath = 0, int kExtra = 0, int kMerge = 0,
          int kPrologue = 0>
Style ring_style(const char* what, int n, int cluster) {
  const int ring = kWarps * kStages * 2 * kTileBytes + (kMerge >= 4 ? 8 * 1024 : 0) +
                   ((kPrologue & 2) != 0 ? kQSmemBytes : 0);
  const std::string shape = std::to_string(kWarps) + "w" + std::to_string(kStages) + "s" +
                            (kMath == 2 ? " lazy"
                             : kMath    ? " math"
                                        : "") +
                            (kExtra ? " +" + std::to_string(kExtra) : "") +
                            (kMerge ? " merge" + std::to_string(kMerge) : "") +
                            (kPrologue ? " pro" + std::to_string(kPrologue) : "");
  return {std::string(what) + "/" + std::to_string(n) +
              (cluster ? "c" + std::to_string(cluster) : "") + " " + shape,
          ring_kernel<kWarps, kStages, kAllHeads, kMath, kExtra, kMerge, kPrologue>,
          kWarps * 32,
          ring > kMinSmem ? ring : kMinSmem,
          kAllHeads ? dim3(n) : dim3(n, kHeads),
          cluster};
}

}  // namespace

int main(int argc, char** argv) {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "properties");
  const int sms = prop.multiProcessorCount;
  std::printf("device: %s, %d SMs\n", prop.name, sms);
  std::uint8_t* pool = nullptr;
  unsigned* sink = nullptr;
  check(cudaMalloc(&pool, kPool), "malloc pool");
  // PROBE_RANDOM=1: bf16 in [-1, 1) as klab bench fills K and V (the softmax max then moves as
  // in the bench), else 0x01 bytes (scores ~0: the max never moves after the first tile).
  const char* random_env = std::getenv("PROBE_RANDOM");
  if (random_env && std::atoi(random_env) == 1) {
    fill_bf16_random<<<4 * sms, 256>>>(reinterpret_cast<std::uint32_t*>(pool), kPool / 4);
    check(cudaGetLastError(), "fill launch");
    check(cudaDeviceSynchronize(), "fill pool");
  } else {
    check(cudaMemset(pool, 1, kPool), "fill pool");
  }
  check(cudaMalloc(&sink, kSinkBytes), "malloc sink");
  check(cudaMemset(sink, 0x3c, kSinkBytes), "fill sink");  // q rows: bf16 0x3c3c (~0.011)
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  const double copy = copy_gbps(pool, stream);
  std::printf("d2d copy (1 GiB, read + write): %.0f GB/s\n", copy);

  // Groups (argv[1]; none: all): the layouts without math (s30 c1), the tile math on some of
  // them (c2), the tile math plus opaque instructions (c3).
  const std::string group = argc > 1 ? argv[1] : "all";
  std::vector<Style> styles;
  if (group == "all" || group == "layout")
    styles.insert(
        styles.end(),
        {ring_style<8, 2, false>("per_head", 9, 9),
         ring_style<8, 2, false>("per_head", 9, 0),
         ring_style<8, 2, false>("per_head", 16, 0),
         ring_style<8, 3, false>("per_head", 9, 9),
         ring_style<8, 2, true>("all_heads", 72, 0),
         ring_style<8, 2, true>("all_heads", sms, 0),
         ring_style<8, 3, true>("all_heads", sms, 0),
         ring_style<4, 4, true>("all_heads", sms, 0),
         {"bulk/" + std::to_string(sms), bulk_kernel, kBulkThreads,
          kBulkStages * kBulkStage > kMinSmem ? kBulkStages * kBulkStage : kMinSmem, dim3(sms), 0},
         {"bulk/72", bulk_kernel, kBulkThreads, kMinSmem, dim3(72), 0}});
  if (group == "all" || group == "math")
    styles.insert(styles.end(), {ring_style<8, 3, false, true>("per_head", 9, 9),
                                 ring_style<4, 6, false, true>("per_head", 9, 9),
                                 ring_style<12, 2, false, true>("per_head", 9, 9),
                                 ring_style<8, 3, false, true>("per_head", 16, 0),
                                 ring_style<8, 3, false, true>("per_head", 16, 2),
                                 ring_style<4, 6, false, true>("per_head", 16, 2),
                                 ring_style<8, 3, true, true>("all_heads", sms, 0)});
  if (group == "all" || group == "merge")
    styles.insert(styles.end(), {ring_style<8, 3, false, true>("per_head", 9, 9),
                                 ring_style<8, 3, false, true, 0, 1>("per_head", 9, 9),
                                 ring_style<8, 3, false, true, 0, 2>("per_head", 9, 9),
                                 ring_style<8, 3, false, true, 0, 3>("per_head", 9, 9),
                                 ring_style<8, 3, false, true, 0, 4>("per_head", 9, 9)});
  if (group == "all" || group == "lazy")
    styles.insert(styles.end(), {ring_style<8, 3, false, 1>("per_head", 9, 9),
                                 ring_style<8, 3, false, 2>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 4>("per_head", 9, 9),
                                 ring_style<8, 3, false, 2, 0, 4>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1>("per_head", 16, 2),
                                 ring_style<8, 3, false, 2>("per_head", 16, 2)});
  if (group == "all" || group == "prologue")
    styles.insert(styles.end(), {ring_style<8, 3, false, 1, 0, 4>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 4, 1>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 4, 2>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 4, 3>("per_head", 9, 9)});
  // s31: the two-level merge (kStop 5) on the 72-SM deal (one group: the global step alone) and
  // on 112 / 128 SMs (clusters of 7, 2 or none), with and without the prologue pieces.
  if (group == "all" || group == "wide")
    styles.insert(styles.end(), {ring_style<8, 3, false, 1, 0, 4>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 5>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1>("per_head", 16, 2),
                                 ring_style<8, 3, false, 1, 0, 5>("per_head", 16, 2),
                                 ring_style<8, 3, false, 1, 0, 5>("per_head", 16, 0),
                                 ring_style<8, 3, false, 1, 0, 5>("per_head", 14, 7),
                                 ring_style<8, 3, false, 1, 0, 5, 3>("per_head", 16, 2),
                                 ring_style<4, 6, false, 1, 0, 5>("per_head", 16, 2)});
  // s31 c2: the arrival as one acq_rel atomic (kStop 6), and 96-SM deals (clusters of 3 or 4).
  if (group == "all" || group == "wide2")
    styles.insert(styles.end(), {ring_style<8, 3, false, 1, 0, 4>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 5>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 6>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1>("per_head", 16, 2),
                                 ring_style<8, 3, false, 1, 0, 5>("per_head", 16, 2),
                                 ring_style<8, 3, false, 1, 0, 6>("per_head", 16, 2),
                                 ring_style<8, 3, false, 1>("per_head", 12, 4),
                                 ring_style<8, 3, false, 1, 0, 6>("per_head", 12, 4),
                                 ring_style<8, 3, false, 1, 0, 6>("per_head", 12, 3),
                                 ring_style<8, 3, false, 1, 0, 6>("per_head", 16, 0)});
  // s31 c3: the kernel's copy deal (pro4) and its zero-fill form (pro8) on the 72-SM deal.
  if (group == "all" || group == "copies")
    styles.insert(styles.end(), {ring_style<8, 3, false, 1, 0, 4>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 4, 4>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 4, 8>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 4, 12>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 4, 15>("per_head", 9, 9),
                                 ring_style<8, 3, false, 0, 0, 0, 4>("per_head", 9, 9),
                                 ring_style<8, 3, false>("per_head", 9, 9)});
  // s31 c8: one cluster a head of 9, 8, 7 or 6 CTAs (c7: `_spec` forced to clusters of 8 took
  // 22.8 µs at S=16384 on a card where its default 9 took 26.9).
  if (group == "all" || group == "gpc")
    styles.insert(styles.end(), {ring_style<8, 3, false, 1, 0, 4>("per_head", 9, 9),
                                 ring_style<8, 3, false, 1, 0, 4>("per_head", 8, 8),
                                 ring_style<8, 3, false, 1, 0, 4>("per_head", 7, 7),
                                 ring_style<8, 3, false, 1, 0, 4>("per_head", 6, 6),
                                 ring_style<8, 3, false>("per_head", 9, 9),
                                 ring_style<8, 3, false>("per_head", 8, 8)});
  if (group == "one") styles.push_back(ring_style<8, 3, false, true>("per_head", 9, 9));
  if (group == "all" || group == "extra")
    styles.insert(styles.end(), {ring_style<8, 3, false>("per_head", 9, 9),
                                 ring_style<8, 3, false, true>("per_head", 9, 9),
                                 ring_style<8, 3, false, true, 128>("per_head", 9, 9),
                                 ring_style<8, 3, false, true, 256>("per_head", 9, 9),
                                 ring_style<8, 3, false, true, 384>("per_head", 9, 9),
                                 ring_style<8, 3, false, true, 640>("per_head", 9, 9),
                                 ring_style<8, 3, false, true>("per_head", 16, 2),
                                 ring_style<8, 3, false, true, 256>("per_head", 16, 2),
                                 ring_style<8, 3, false, true, 640>("per_head", 16, 2)});
  // argv[2]: other lengths, a comma list (one for a profiler run, s30 c4)
  std::vector<int> lens = {4096, 8192, 12288, 16384, 32768};
  if (argc > 2) {  // a comma list
    lens.clear();
    for (const char* c = argv[2]; *c != '\0';) {
      char* next = nullptr;
      lens.push_back(static_cast<int>(std::strtol(c, &next, 10)));
      c = *next == ',' ? next + 1 : next;
    }
  }
  std::printf("%-32s", "style (µs a launch, % copy)");
  for (int s : lens) std::printf("   S=%-11d", s);
  std::printf("\n");
  for (const Style& st : styles) {
    std::printf("%-32s", st.name.c_str());
    for (int s : lens) {
      const double us = time_style(st, s, pool, sink, stream);
      const double gbps = static_cast<double>(s) * 2 * kTokenBytes / (us * 1e-6) / 1e9;
      std::printf("   %6.2f %5.1f%%", us, 100.0 * gbps / copy);
    }
    std::printf("\n");
  }
  check(cudaFree(pool), "free");
  check(cudaFree(sink), "free");
  return 0;
}
