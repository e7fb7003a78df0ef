// Prefill variant `wgmma_fa3`: FlashAttention-3 style on Hopper warpgroup MMA (sm_90a only).
//
// A CTA of two warpgroups owns a 128-row query tile of one (sequence, query head); warpgroup w
// owns rows 64w..64w+63. Q, K and V live in shared memory as 128-byte-swizzle atoms (8 rows x
// 64 elements, chunk c of row r at c ^ (r % 8); head dim 128 is two column blocks side by side),
// the layout wgmma reads through matrix descriptors (common/wgmma.cuh). Per 128-key tile j and
// warpgroup:
//   S_j = Q K_j^T    8 (D = 128) wgmma m64n128k16, A = Q and B = K both K-major from smem
//   softmax          f32 online softmax on the S accumulators: exp2 with scale * log2 e folded
//                    into one FFMA, row max / sum over the 4 lanes sharing a row, masking only
//                    on tiles that reach past a row's last visible key
//   O += P_j V_j     8 wgmma m64nDk16, A = P re-packed from the S accumulators in registers
//                    (same fragment layout, no data movement), B = V from smem read MN-major
//                    (imm-trans-b = 1): V stays [keys, D] as loaded, no transpose pass
// Intra-warpgroup pipelining (the FA3 overlap): iteration j first waits for the previous
// batch, rescales O to the max of tile j - 1 and packs P_{j-1}, then issues S_j and
// O += P_{j-1} V_{j-1} back to back, waits only for S_j and runs the softmax of S_j while the
// tensor cores still work on P_{j-1} V_{j-1}. O therefore lags the running max by one tile,
// which the rescale order accounts for.
//
// Loads: all 256 threads stage K/V tile j + 1 with 16-byte cp.async (one key row half per
// thread: one row lookup, one block-table read when paged) right after issuing iteration j's
// wgmmas (the copies run under them); rows the source cannot address or past the length are
// zero-filled. K uses 2 stages, V 4: V_{j-1} is read by this warpgroup's batch j and V_{j-2}
// may still be read by the other warpgroup, whose wait for it comes after the barrier. Every
// thread fences its copies into the async proxy (fence.proxy.async) before the one barrier
// per tile that publishes them to wgmma. Causal CTAs stop at the last key tile their rows can
// see and run heaviest-first. The K/V source (packed varlen or a contiguous/paged cache) is a
// template parameter, as in mma_fa2.
//
// Not (yet) here: TMA loads, a producer warpgroup with setmaxnreg, ping-pong scheduling of the
// two warpgroups' softmax against each other's GEMMs.
#pragma once

#include <cstdint>

#include "cuda/attn_prefill/prefill_common.cuh"
#include "cuda/attn_prefill/wgmma_fa3.hpp"
#include "cuda/attn_prefill/wgmma_fa3_tma.hpp"
#include "cuda/common/mma.cuh"
#include "cuda/common/smem_tiles.cuh"
#include "cuda/common/wgmma.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda::prefill {

constexpr int kFa3Warpgroups = 2;
constexpr int kFa3Threads = 128 * kFa3Warpgroups;

template <class T, int D>
struct Fa3Shape {
  static constexpr int kBM = 64 * kFa3Warpgroups;  // query rows per CTA
  static constexpr int kBN = 128;                  // keys per tile
  static constexpr int kKStages = 2;
  static constexpr int kVStages = 4;
  static constexpr int kChunks = D / 8;  // 16-byte chunks per row
  static constexpr std::uint32_t kQBytes = kBM * D * sizeof(T);
  static constexpr std::uint32_t kTileBytes = kBN * D * sizeof(T);
  static constexpr std::uint32_t kKOffset = kQBytes;
  static constexpr std::uint32_t kVOffset = kKOffset + kKStages * kTileBytes;
  // One mbarrier per K and per V stage (TMA loads only).
  static constexpr std::uint32_t kBarOffset = kVOffset + kVStages * kTileBytes;
  // + 1024: the dynamic smem base is rounded up to the swizzle atom alignment.
  static constexpr std::size_t kSmemBytes = kBarOffset + 8 * (kKStages + kVStages) + 1024;
  static_assert(D == 64 || D == 128, "head dim 64 or 128");
  static_assert(kBM * 2 == kFa3Threads && kBN * 2 == kFa3Threads, "a thread per row half");
};

// Byte offset (within one descriptor's matrix) of reduction step kk (16 elements) of a
// K-major swizzled tile of `Rows` rows: column block kk / 4, 32 bytes per step inside it.
template <int Rows>
__device__ __forceinline__ constexpr std::uint32_t kmajor_step_bytes(int kk) {
  return static_cast<std::uint32_t>((kk / 4) * (Rows * 128) + (kk % 4) * 32);
}

// Thread's half of one row: chunks [half * Chunks / 2, (half + 1) * Chunks / 2) of `src` into
// row `row` of the swizzled tile at shared address `tile` (zero-filled when !valid).
template <class T, int Rows, int Chunks>
__device__ __forceinline__ void copy_row_half(std::uint32_t tile, const T* src, bool valid, int row,
                                              int half) {
#pragma unroll
  for (int j = 0; j < Chunks / 2; ++j) {
    const int c = half * (Chunks / 2) + j;
    cp_async16_at(tile + sw128_offset<Rows>(row, c), src + c * 8, valid);
  }
}

// 2^x on the MUFU alone. exp2f adds a range fix-up (a compare and two predicated FMULs) per
// call to keep denormal results; softmax weights below 2^-126 of the row maximum do not matter,
// and ex2.approx.ftz maps -inf to +0 as the masking needs.
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// O += P V for one 16-key step: n = D.
template <class T, int D>
__device__ __forceinline__ void wgmma_pv(float (&o)[D / 2], const std::uint32_t (&a)[4],
                                         std::uint64_t desc_v) {
  if constexpr (D == 128)
    wgmma_m64n128k16_rs_tb<T>(o, a, desc_v);
  else
    wgmma_m64n64k16_rs_tb<T>(o, a, desc_v);
}

// Which query rows a CTA owns. `heads` query heads of one KV group share the CTA (GQA packing,
// wgmma_fa3_gqa): tile row r is position first_pos + r / heads of query head first_head +
// r % heads, so every K/V tile fetched feeds `heads` times the MMA work. Rows at or past
// positions * heads (when heads does not divide kBM) are padding: zero queries, never stored.
// heads == 1 is the plain mapping of wgmma_fa3 (128 consecutive positions of one head).
struct Fa3Rows {
  int heads = 1;
  int positions = 0;  // kBM / heads
  __device__ __forceinline__ int pos_of(int r) const { return r / heads; }
  __device__ __forceinline__ int head_of(int r) const { return r - (r / heads) * heads; }
  __device__ __forceinline__ bool real(int r) const { return r < positions * heads; }
};

// Where a sequence's key rows start in the TMA view (wgmma_fa3_tma.hpp): packed K/V are one
// block whose rows the sequences share; a contiguous cache gives each sequence a block.
__device__ __forceinline__ int tma_row_base(const PackedKv::Seq& s) {
  return static_cast<int>(s.begin);
}
__device__ __forceinline__ int tma_row_base(const CachedKv::Seq&) {
  return 0;
}
__device__ __forceinline__ int tma_block(const PackedKv::Seq&) {
  return 0;
}
__device__ __forceinline__ int tma_block(const CachedKv::Seq& s) {
  return static_cast<int>(s.block);
}

// kTma (wgmma_fa3_tma): every key tile wholly inside the sequence is fetched by one thread with
// TMA into the same swizzled stages, completing on the stage's mbarrier, which the warpgroups
// wait on right before the wgmma that reads it; the other 255 threads issue no loads. A tile
// reaching past the sequence's last key (at most the final one) still takes the cp.async path,
// which zero-fills the rows past the end: TMA would read the next sequence's (or a cache's
// unwritten) rows there, and P = 0 times a NaN in V is still NaN. The per-tile barrier stays:
// it is what frees a stage for its next load.
template <class T, int D, class Src, bool kTma>
__global__ void __launch_bounds__(kFa3Threads, 1)
    wgmma_fa3_kernel(PrefillParams p, Src src, Fa3Rows map,
                     const __grid_constant__ Fa3KvMaps maps) {
#if KLAB_WGMMA_AVAILABLE
  using S = Fa3Shape<T, D>;
  constexpr int kSRegs = S::kBN / 2;     // S accumulator registers per thread (64 x kBN / 128)
  constexpr int kORegs = D / 2;          // O accumulator registers per thread
  constexpr int kQkSteps = D / 16;       // reduction steps of Q K^T
  constexpr int kPvSteps = S::kBN / 16;  // reduction steps of P V
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const std::uint32_t smem = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const std::uint32_t sq = smem, sk = smem + S::kKOffset, sv = smem + S::kVOffset;
  const std::uint32_t bars = smem + S::kBarOffset;  // K stages' barriers, then V stages'

  const int b = blockIdx.z, h = blockIdx.y * map.heads;  // first query head of the CTA
  const int tile = p.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  const auto seq = src.seq(b);
  const SeqRows rows = seq_rows(p, b, seq.len);
  const int m0 = tile * map.positions;  // first query position of the CTA
  if (m0 >= rows.q_len) return;
  const int last_pos = (m0 + map.positions < rows.q_len ? m0 + map.positions : rows.q_len) - 1;
  const int ntiles = (rows.visible(last_pos, p.causal) + S::kBN - 1) / S::kBN;
  const int hkv = h / (p.num_q_heads / p.num_kv_heads);
  const int tid = threadIdx.x, wg = tid / 128, warp = (tid % 128) / 32, lane = tid % 32;

  const T* kg = static_cast<const T*>(kv_k(src)) + hkv * kv_head_stride(src);
  const T* vg = static_cast<const T*>(kv_v(src)) + hkv * kv_head_stride(src);
  const int copy_row = tid / 2, copy_half = tid % 2;
  auto k_bar = [&](int t) { return bars + 8u * static_cast<std::uint32_t>(t % S::kKStages); };
  auto v_bar = [&](int t) {
    return bars + 8u * static_cast<std::uint32_t>(S::kKStages + t % S::kVStages);
  };
  auto by_tma = [&](int t) { return kTma && (t + 1) * S::kBN <= rows.k_len; };
  auto tma_kv = [&](int t) {
    const int row = tma_row_base(seq) + t * S::kBN, block = tma_block(seq);
    const std::uint32_t k_dst = sk + (t % S::kKStages) * S::kTileBytes;
    const std::uint32_t v_dst = sv + (t % S::kVStages) * S::kTileBytes;
    mbarrier_arrive_expect_tx(k_bar(t), S::kTileBytes);
#pragma unroll
    for (int cb = 0; cb < D / 64; ++cb)
      tma_load_4d(k_dst + cb * (S::kBN * 128), &maps.k, k_bar(t), cb * 64, hkv, row, block);
    mbarrier_arrive_expect_tx(v_bar(t), S::kTileBytes);
#pragma unroll
    for (int cb = 0; cb < D / 64; ++cb)
      tma_load_4d(v_dst + cb * (S::kBN * 128), &maps.v, v_bar(t), cb * 64, hkv, row, block);
  };
  // Tile t's n-th use of its stage completes the barrier's phase n: parity n & 1.
  auto wait_k = [&](int t) {
    if (by_tma(t)) mbarrier_wait(k_bar(t), static_cast<std::uint32_t>((t / S::kKStages) & 1));
  };
  auto wait_v = [&](int t) {
    if (by_tma(t)) mbarrier_wait(v_bar(t), static_cast<std::uint32_t>((t / S::kVStages) & 1));
  };
  auto load_kv = [&](int t) {
    if (by_tma(t)) {
      if (tid == 0) tma_kv(t);
      return;
    }
    const int pos = t * S::kBN + copy_row;
    const std::int64_t off = pos < rows.k_len ? seq.row_offset(pos) : -1;
    const std::int64_t at = off >= 0 ? off : 0;
    copy_row_half<T, S::kBN, S::kChunks>(sk + (t % S::kKStages) * S::kTileBytes, kg + at, off >= 0,
                                         copy_row, copy_half);
    copy_row_half<T, S::kBN, S::kChunks>(sv + (t % S::kVStages) * S::kTileBytes, vg + at, off >= 0,
                                         copy_row, copy_half);
  };

  if constexpr (kTma) {
    if (tid == 0) {
      for (int i = 0; i < S::kKStages + S::kVStages; ++i) mbarrier_init(bars + 8u * i, 1);
      fence_mbarrier_init();
    }
    __syncthreads();
  }
  {  // Q tile (rows past the sequence zero-filled) and the first K/V tile.
    const int pos = m0 + map.pos_of(copy_row);
    const bool valid = map.real(copy_row) && pos < rows.q_len;
    const T* qg =
        static_cast<const T*>(p.q) + (valid ? std::int64_t{rows.q_begin + pos} * p.q_stride_t +
                                                  (h + map.head_of(copy_row)) * p.q_stride_h
                                            : 0);
    copy_row_half<T, S::kBM, S::kChunks>(sq, qg, valid, copy_row, copy_half);
    if (ntiles > 0) load_kv(0);
    cp_async_commit();
    cp_async_wait<0>();
    fence_proxy_async_smem();
    __syncthreads();
  }

  // Descriptors: Q (this warpgroup's 64 rows) and K are K-major, 8-row groups 1024 bytes
  // apart; V is MN-major: 64-column blocks kBN * 128 bytes apart, 8-key groups 1024 apart.
  const std::uint64_t desc_q = sw128_desc(sq + wg * 64 * 128, 16, 1024);
  const std::uint64_t desc_k = sw128_desc(sk, 16, 1024);
  const std::uint64_t desc_v = sw128_desc(sv, S::kBN * 128, 1024);

  float s[kSRegs], o[kORegs];
  std::uint32_t pf[kPvSteps][4];
#pragma unroll
  for (int i = 0; i < kSRegs; ++i) s[i] = 0.0f;
#pragma unroll
  for (int i = 0; i < kORegs; ++i) o[i] = 0.0f;
#pragma unroll
  for (int k = 0; k < kPvSteps; ++k)
#pragma unroll
    for (int e = 0; e < 4; ++e) pf[k][e] = 0u;

  // Every descriptor is formed before the wgmma.fence that opens a batch: ptxas serialises
  // wgmmas whose inputs are computed by other instructions inside the batch.
  auto issue_s = [&](std::uint64_t dk) {
#pragma unroll
    for (int kk = 0; kk < kQkSteps; ++kk)
      wgmma_m64n128k16_ss<T>(s, desc_q + (kmajor_step_bytes<S::kBM>(kk) >> 4),
                             dk + (kmajor_step_bytes<S::kBN>(kk) >> 4), kk > 0);
    wgmma_commit();
  };
  auto issue_pv = [&](std::uint64_t dv) {
#pragma unroll
    for (int kk = 0; kk < kPvSteps; ++kk) wgmma_pv<T, D>(o, pf[kk], dv + ((kk * 16 * 128) >> 4));
    wgmma_commit();
  };
  auto k_desc = [&](int stage) { return desc_k + ((stage * S::kTileBytes) >> 4); };
  auto v_desc = [&](int stage) { return desc_v + ((stage * S::kTileBytes) >> 4); };

  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
  const float sl = p.scale * kLog2e;
  const int warp_row0 = wg * 64 + warp * 16;
  const int row0 = warp_row0 + lane / 4;  // this thread's tile rows: row0 and row0 + 8
  // Positions grow with the tile row, so the warp's first row sees the fewest keys.
  const int warp_first_visible = rows.visible(m0 + map.pos_of(warp_row0), p.causal);
  const int vis[2] = {rows.visible(m0 + map.pos_of(row0), p.causal),
                      rows.visible(m0 + map.pos_of(row0 + 8), p.causal)};

  // Masks S_t (only tiles that reach past a row's last visible key), updates the running max
  // and sum, turns S into unnormalised probabilities in place and returns O's rescale factors.
  auto softmax = [&](int t, float(&alpha)[2]) {
    const int key0 = t * S::kBN;
    if (key0 + S::kBN > warp_first_visible) {
#pragma unroll
      for (int i = 0; i < kSRegs / 4; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (key0 + i * 8 + (lane % 4) * 2 + (e & 1) >= vis[e >> 1]) s[4 * i + e] = -INFINITY;
    }
    // Rows row0 (elements 0, 1 of each 4) and row0 + 8 (elements 2, 3).
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float mx = row_max[half];
#pragma unroll
      for (int i = 0; i < kSRegs / 4; ++i)
        mx = fmaxf(mx, fmaxf(s[4 * i + 2 * half], s[4 * i + 2 * half + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float base = mx == -INFINITY ? 0.0f : mx * sl;
      alpha[half] = exp2_ftz(row_max[half] * sl - base);
      row_max[half] = mx;
      float sum = 0.0f;
#pragma unroll
      for (int i = 0; i < kSRegs / 4; ++i)
#pragma unroll
        for (int e = 2 * half; e < 2 * half + 2; ++e) {
          s[4 * i + e] = exp2_ftz(fmaf(s[4 * i + e], sl, -base));
          sum += s[4 * i + e];
        }
      row_sum[half] = row_sum[half] * alpha[half] + sum;  // lane-partial; reduced at the end
    }
  };
  // S accumulators of key columns 16k..16k+15 are exactly P's A fragment for k-step k.
  auto pack_p = [&] {
#pragma unroll
    for (int k = 0; k < kPvSteps; ++k)
#pragma unroll
      for (int r = 0; r < 4; ++r) pf[k][r] = pack2<T>(s[8 * k + 2 * r], s[8 * k + 2 * r + 1]);
  };
  auto publish_next_tile = [&] {
    cp_async_wait<0>();
    fence_proxy_async_smem();
    __syncthreads();  // tile t + 1 visible to every warpgroup; tile t's stages free
  };

  // O += P_{t-1} V_{t-1} for the batch of iteration t: waits for the previous batch's
  // P_{t-2} V_{t-2} (O and P's registers are then free), rescales O from max m_{t-2} to m_{t-1}
  // and packs P_{t-1} from the softmax left in s. Done at the top of the next iteration, not
  // right after the softmax: ptxas schedules within a basic block, and with the wait in the
  // softmax's block it hoists the wait above the exponentials (they feed the pack that must
  // follow it), which serialises softmax and P V. The loop back-edge keeps them apart.
  float alpha[2] = {0.0f, 0.0f};
  auto prepare_pv = [&] {
    wgmma_wait<0>();
    fence_operands(o);
#pragma unroll
    for (int k = 0; k < kPvSteps; ++k) fence_operands(pf[k]);
#pragma unroll
    for (int i = 0; i < kORegs / 4; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[4 * i + e] *= alpha[e >> 1];
    pack_p();
  };

  if (ntiles > 0) {  // tile 0: S and softmax only
    wait_k(0);
    const std::uint64_t dk = k_desc(0);
    wgmma_fence();
    issue_s(dk);
    if (ntiles > 1) load_kv(1);  // issued while the tensor cores work
    cp_async_commit();
    wgmma_wait<0>();
    fence_operands(s);
    softmax(0, alpha);
    publish_next_tile();
  }
  int k_stage = 1, v_prev = 0;  // stage of K_t and of V_{t-1}
  for (int t = 1; t < ntiles; ++t) {
    prepare_pv();
    wait_k(t);
    wait_v(t - 1);
    const std::uint64_t dk = k_desc(k_stage), dv = v_desc(v_prev);
    wgmma_fence();  // O was rescaled and P rewritten by ordinary instructions
    issue_s(dk);
    issue_pv(dv);
    // Tile t + 1 goes to K stage (t + 1) % 2 and V stage (t + 1) % 4: not read by this batch,
    // nor by the other warpgroup's P_{t-2} V_{t-2}, which may still run (its wait is at the
    // top of its iteration t, after the barrier that ended iteration t - 1).
    if (t + 1 < ntiles) load_kv(t + 1);
    cp_async_commit();
    wgmma_wait<1>();  // S_t done; P_{t-1} V_{t-1} may still run
    fence_operands(s);
    softmax(t, alpha);
    publish_next_tile();
    k_stage ^= 1;
    v_prev = v_prev + 1 == S::kVStages ? 0 : v_prev + 1;
  }
  if (ntiles > 0) {
    prepare_pv();
    wait_v(ntiles - 1);
    const std::uint64_t dv = v_desc(v_prev);
    wgmma_fence();
    issue_pv(dv);
    wgmma_wait<0>();
    fence_operands(o);
  }

#pragma unroll
  for (int half = 0; half < 2; ++half) {
    float sum = row_sum[half];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int row = row0 + 8 * half, pos = m0 + map.pos_of(row);
    if (!map.real(row) || pos >= rows.q_len) continue;
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    T* dst = static_cast<T*>(p.out) + std::int64_t{rows.q_begin + pos} * p.out_stride_t +
             (h + map.head_of(row)) * p.out_stride_h + (lane % 4) * 2;
#pragma unroll
    for (int i = 0; i < kORegs / 4; ++i)
      *reinterpret_cast<std::uint32_t*>(dst + i * 8) =
          pack2<T>(o[4 * i + 2 * half] * inv, o[4 * i + 2 * half + 1] * inv);
  }
#else
  (void)p;
  (void)src;
  wgmma_unavailable();
#endif
}

template <class T, int D, bool kTma, class Src>
void launch_wgmma_fa3_kernel(const PrefillParams& p, Src src, Fa3Rows map, const Fa3KvMaps& maps,
                             cudaStream_t stream) {
  using S = Fa3Shape<T, D>;
  const dim3 grid(static_cast<unsigned>((p.max_q_len + map.positions - 1) / map.positions),
                  static_cast<unsigned>(p.num_q_heads / map.heads), static_cast<unsigned>(p.batch));
  const auto kernel = wgmma_fa3_kernel<T, D, Src, kTma>;
  static const bool smem_ok = [&] {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(S::kSmemBytes)),
          "cudaFuncSetAttribute(prefill wgmma_fa3)");
    return true;
  }();
  (void)smem_ok;
  kernel<<<grid, kFa3Threads, S::kSmemBytes, stream>>>(p, src, map, maps);
  check_launch("prefill_attention wgmma_fa3");
}

template <class T, int D>
void launch_wgmma_fa3_dim(const PrefillParams& p, int pack_heads, bool tma, cudaStream_t stream) {
  Fa3Rows map;
  map.heads = pack_heads;
  map.positions = Fa3Shape<T, D>::kBM / pack_heads;
  Fa3KvMaps maps{};
  const bool use_tma = tma && encode_fa3_kv_maps(p, Fa3Shape<T, D>::kBN, maps);
  with_source(p, [&](auto src) {
    if (use_tma)
      launch_wgmma_fa3_kernel<T, D, true>(p, src, map, maps, stream);
    else
      launch_wgmma_fa3_kernel<T, D, false>(p, src, map, maps, stream);
  });
}

// Explicitly instantiated per dtype in wgmma_fa3_<dtype>.cu.
template <class T>
void launch_wgmma_fa3_typed(const PrefillParams& p, int pack_heads, bool tma, cudaStream_t stream) {
  switch (p.head_dim) {
    case 64:
      return launch_wgmma_fa3_dim<T, 64>(p, pack_heads, tma, stream);
    case 128:
      return launch_wgmma_fa3_dim<T, 128>(p, pack_heads, tma, stream);
    default:
      fail("prefill_attention wgmma_fa3: head_dim must be 64 or 128");
  }
}

}  // namespace klab::cuda::prefill
