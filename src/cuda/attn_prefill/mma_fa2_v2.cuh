// Prefill variant `mma_fa2_v2`: FlashAttention-2 on mma.sync with 32 query rows per warp.
//
// Why: in `mma_fa2` every warp owns 16 query rows, so each K / V fragment it loads from shared
// memory feeds one m16n8k16 MMA: 256 bytes of ldmatrix traffic per MMA, twice what shared
// memory delivers per MMA the tensor cores can issue (128 B/clk/SM), which caps it near half
// of the mma.sync peak. Here a warp owns two 16-row m-tiles and reuses every K / V fragment
// for both; Q's A fragments come from shared memory each k-step (keeping them in registers as
// well would need 64 more than the 255 available), 160 bytes per MMA in all.
//
// A block of 4 warps owns a 128-row query tile of one (sequence, query head); 64-key K/V tiles
// are double-buffered through shared memory by cp.async (tile j + 1 lands while tile j
// computes), rows XOR-swizzled in 16-byte chunks for conflict-free ldmatrix. Per tile and warp:
//   S = Q K^T        2 x 8 accumulator tiles; Q and K via ldmatrix
//   online softmax   exp2 with scale * log2 e folded into one FFMA; masking only on tiles that
//                    reach past the length or the causal diagonal; a warp whose rows see none
//                    of the tile's keys skips it
//   O += P V         P re-packed from the S accumulators into A fragments, V via ldmatrix.trans
// Causal blocks stop at the last key tile their rows can see and run heaviest-first. The K/V
// source (packed varlen or a contiguous/paged cache) is a template parameter.
#pragma once

#include <cstdint>

#include "cuda/attn_prefill/prefill_common.cuh"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/mma.cuh"
#include "cuda/common/smem_tiles.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda::prefill {

constexpr int kV2Warps = 4;
constexpr int kV2Threads = kV2Warps * 32;
constexpr int kV2MTiles = 2;  // 16-row m-tiles per warp

template <class T, int D>
struct Fa2V2Shape {
  static constexpr int kWarpRows = 16 * kV2MTiles;
  static constexpr int kBM = kWarpRows * kV2Warps;  // query rows per block
  static constexpr int kBN = 64;                    // keys per tile
  // Keys per S -> softmax -> P V round: at D = 128 a 64-key S (64 registers) next to O (128)
  // does not fit in 255 registers without spills.
  static constexpr int kSubN = D >= 128 ? 32 : 64;
  static constexpr int kChunks = D / 8;  // 16-byte chunks per row
  static constexpr int kQElems = kBM * D;
  static constexpr int kTileElems = kBN * D;
  // Q, then K stages 0 and 1, then V stages 0 and 1.
  static constexpr std::size_t kSmemBytes = sizeof(T) * (kQElems + 4u * kTileElems);
  static_assert(D % 16 == 0 && kChunks >= 8, "head dim 64 or 128");
};

template <class T, int D, class Src>
__global__ void __launch_bounds__(kV2Threads, 2) mma_fa2_v2_kernel(PrefillParams p, Src src) {
  using S = Fa2V2Shape<T, D>;
  constexpr int kKSteps = D / 16;        // Q K^T reduction steps
  constexpr int kNTiles = S::kSubN / 8;  // S column tiles of a sub-tile
  constexpr int kDTiles = D / 8;         // O column tiles
  extern __shared__ __align__(128) unsigned char smem[];
  T* sq = reinterpret_cast<T*>(smem);
  T* sk = sq + S::kQElems;
  T* sv = sk + 2 * S::kTileElems;

  const int b = blockIdx.z, h = blockIdx.y;
  const int tile = p.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  const auto seq = src.seq(b);
  const SeqRows rows = seq_rows(p, b, seq.len);
  const int m0 = tile * S::kBM;
  if (m0 >= rows.q_len) return;
  const int last_row = (m0 + S::kBM < rows.q_len ? m0 + S::kBM : rows.q_len) - 1;
  const int last_key = rows.visible(last_row, p.causal);
  const int ntiles = (last_key + S::kBN - 1) / S::kBN;
  const int hkv = h / (p.num_q_heads / p.num_kv_heads);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  const T* kg = static_cast<const T*>(kv_k(src)) + hkv * kv_head_stride(src);
  const T* vg = static_cast<const T*>(kv_v(src)) + hkv * kv_head_stride(src);
  // K/V tile copy: thread -> one key row (tid / 2) and every other 16-byte chunk of it (lane
  // pairs cover 32-byte sectors), so a tile costs each thread one row lookup (one block-table
  // read when paged) and no per-chunk address state survives into the compute.
  static_assert(S::kBN * 2 == kV2Threads);
  const int copy_row = tid / 2, copy_parity = tid % 2;
  const std::uint32_t copy_lane = swizzled_offset<S::kChunks>(copy_row, copy_parity);
  auto load_kv = [&](int t, int stage) {
    const int pos = t * S::kBN + copy_row;
    const std::int64_t off = pos < rows.k_len ? seq.row_offset(pos) : -1;
    const T* k_row = kg + (off >= 0 ? off : 0) + copy_parity * 8;
    const T* v_row = vg + (off >= 0 ? off : 0) + copy_parity * 8;
    const std::uint32_t k_dst = smem_addr(sk) + stage * S::kTileElems * sizeof(T);
    const std::uint32_t v_dst = smem_addr(sv) + stage * S::kTileElems * sizeof(T);
#pragma unroll
    for (int j = 0; j < S::kChunks / 2; ++j) {  // chunk 2 j + parity == parity ^ 2 j
      const std::uint32_t dst = xor_at_use(copy_lane, (2 * j) << 4);
      cp_async16_at(k_dst + dst, k_row + 16 * j, off >= 0);
      cp_async16_at(v_dst + dst, v_row + 16 * j, off >= 0);
    }
  };

  {  // Q tile (rows past the sequence zero-filled) and the first K/V tile.
    const T* qg = static_cast<const T*>(p.q) + h * p.q_stride_h;
#pragma unroll
    for (int i = 0; i < S::kBM * S::kChunks / kV2Threads; ++i) {
      const int idx = tid + i * kV2Threads;
      const int row = idx / S::kChunks, c = idx % S::kChunks;
      const bool valid = m0 + row < rows.q_len;
      const std::int64_t at =
          valid ? std::int64_t{rows.q_begin + m0 + row} * p.q_stride_t + c * 8 : 0;
      cp_async16(sq + swizzled_chunk<S::kChunks>(row, c) * 8, qg + at, valid);
    }
    if (ntiles > 0) load_kv(0, 0);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
  }

  float o[kV2MTiles][kDTiles][4];
#pragma unroll
  for (int mt = 0; mt < kV2MTiles; ++mt)
#pragma unroll
    for (int nt = 0; nt < kDTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[mt][nt][e] = 0.0f;
  // Row state per (m-tile, half): rows row0 + 16 mt + 8 half.
  float row_max[kV2MTiles][2], row_sum[kV2MTiles][2];
#pragma unroll
  for (int mt = 0; mt < kV2MTiles; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      row_max[mt][half] = -INFINITY;
      row_sum[mt][half] = 0.0f;
    }
  const float sl = p.scale * kLog2e;
  const int warp_row0 = m0 + warp * S::kWarpRows;
  const int row0 = warp_row0 + lane / 4;
  const int warp_first_visible = rows.visible(warp_row0, p.causal);
  const int warp_last_visible = rows.visible(warp_row0 + S::kWarpRows - 1, p.causal);
  // ldmatrix addresses: a per-lane swizzled offset, XORed with the k-step and plus the row
  // step (mma.cuh, swizzled_offset), so no per-k-step pointers stay live across the loop.
  constexpr std::uint32_t kRowBytes = S::kChunks * 16;
  const std::uint32_t q_addr = smem_addr(sq), k_addr = smem_addr(sk), v_addr = smem_addr(sv);
  const std::uint32_t q_lane =
      swizzled_offset<S::kChunks>(warp * S::kWarpRows + lane % 16, lane / 16);
  const std::uint32_t k_lane =
      swizzled_offset<S::kChunks>(lane % 8 + (lane / 16) * 8, (lane / 8) % 2);
  const std::uint32_t v_lane =
      swizzled_offset<S::kChunks>(lane % 8 + ((lane / 8) % 2) * 8, lane / 16);

  for (int t = 0; t < ntiles; ++t) {
    if (t + 1 < ntiles) load_kv(t + 1, (t + 1) & 1);
    cp_async_commit();
    const std::uint32_t stage = (t & 1) * S::kTileElems * sizeof(T);
    const std::uint32_t tk = k_addr + stage, tv = v_addr + stage;
    const int key0 = t * S::kBN;

    // The tile in sub-tiles of kSubN keys, each a full S -> softmax -> P V round.
#pragma unroll 1
    for (int sub = 0; sub < S::kBN / S::kSubN; ++sub) {
      const int sub0 = key0 + sub * S::kSubN;
      if (sub0 >= warp_last_visible) break;  // every row of this warp is masked from here on
      const std::uint32_t sub_k = tk + sub * S::kSubN * kRowBytes;
      const std::uint32_t sub_v = tv + sub * S::kSubN * kRowBytes;
      float s[kV2MTiles][kNTiles][4];
#pragma unroll
      for (int mt = 0; mt < kV2MTiles; ++mt)
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.0f;
            // Not unrolled: ptxas would hoist the next k-steps' fragments next to the accumulators
            // and spill; 2 warps per scheduler hide one k-step's ldmatrix latency instead.
#pragma unroll 1
      for (int kk = 0; kk < kKSteps; ++kk) {
        std::uint32_t qa[kV2MTiles][4];
#pragma unroll
        for (int mt = 0; mt < kV2MTiles; ++mt)
          ldmatrix_x4_at(qa[mt], q_addr + xor_at_use(q_lane, kk << 5) + mt * 16 * kRowBytes);
#pragma unroll
        for (int np = 0; np < kNTiles / 2; ++np) {
          std::uint32_t r[4];
          ldmatrix_x4_at(r, sub_k + xor_at_use(k_lane, kk << 5) + np * 16 * kRowBytes);
          const std::uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
#pragma unroll
          for (int mt = 0; mt < kV2MTiles; ++mt) {
            mma_m16n8k16<T>(s[mt][2 * np], qa[mt], b0);
            mma_m16n8k16<T>(s[mt][2 * np + 1], qa[mt], b1);
          }
        }
      }

      // Mask keys past the length or the causal diagonal (only sub-tiles that reach them).
      if (sub0 + S::kSubN > warp_first_visible) {
#pragma unroll
        for (int mt = 0; mt < kV2MTiles; ++mt) {
          const int vis0 = rows.visible(row0 + 16 * mt, p.causal);
          const int vis1 = rows.visible(row0 + 16 * mt + 8, p.causal);
#pragma unroll
          for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int key = sub0 + nt * 8 + (lane % 4) * 2 + (e & 1);
              if (key >= (e < 2 ? vis0 : vis1)) s[mt][nt][e] = -INFINITY;
            }
        }
      }

      // Online softmax per row: elements 0, 1 are row 16 mt + lane / 4, elements 2, 3 row + 8.
      // O is rescaled only when some row of the warp got a new maximum (after the first
      // sub-tiles it rarely does).
#pragma unroll
      for (int mt = 0; mt < kV2MTiles; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          float mx = row_max[mt][half];
#pragma unroll
          for (int nt = 0; nt < kNTiles; ++nt)
            mx = fmaxf(mx, fmaxf(s[mt][nt][2 * half], s[mt][nt][2 * half + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
          const float base = mx == -INFINITY ? 0.0f : mx * sl;
          if (__any_sync(0xffffffffu, mx != row_max[mt][half])) {
            const float alpha = exp2f(row_max[mt][half] * sl - base);
            row_sum[mt][half] *= alpha;
#pragma unroll
            for (int nt = 0; nt < kDTiles; ++nt) {
              o[mt][nt][2 * half] *= alpha;
              o[mt][nt][2 * half + 1] *= alpha;
            }
          }
          row_max[mt][half] = mx;
          float sum = 0.0f;
#pragma unroll
          for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
            for (int e = 2 * half; e < 2 * half + 2; ++e) {
              s[mt][nt][e] = exp2f(fmaf(s[mt][nt][e], sl, -base));
              sum += s[mt][nt][e];
            }
          row_sum[mt][half] += sum;  // lane-partial; reduced after the loop
        }

        // O += P V: S tiles 2kk, 2kk+1 of each m-tile are P's A fragment for keys 16kk..+15;
        // each V fragment serves both m-tiles.
#pragma unroll
      for (int kk = 0; kk < S::kSubN / 16; ++kk) {
        std::uint32_t a[kV2MTiles][4];
#pragma unroll
        for (int mt = 0; mt < kV2MTiles; ++mt) {
          a[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
          a[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
          a[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
          a[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        }
#pragma unroll
        for (int dp = 0; dp < kDTiles / 2; ++dp) {
          std::uint32_t r[4];
          ldmatrix_x4_trans_at(r, sub_v + xor_at_use(v_lane, dp << 5) + kk * 16 * kRowBytes);
          const std::uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
#pragma unroll
          for (int mt = 0; mt < kV2MTiles; ++mt) {
            mma_m16n8k16<T>(o[mt][2 * dp], a[mt], b0);
            mma_m16n8k16<T>(o[mt][2 * dp + 1], a[mt], b1);
          }
        }
      }
    }
    cp_async_wait<0>();
    __syncthreads();  // tile t + 1 has landed for everyone; stage t & 1 is free
  }

#pragma unroll
  for (int mt = 0; mt < kV2MTiles; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float sum = row_sum[mt][half];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int row = row0 + 16 * mt + 8 * half;
      if (row >= rows.q_len) continue;
      const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
      T* dst = static_cast<T*>(p.out) + std::int64_t{rows.q_begin + row} * p.out_stride_t +
               h * p.out_stride_h + (lane % 4) * 2;
#pragma unroll
      for (int nt = 0; nt < kDTiles; ++nt)
        *reinterpret_cast<std::uint32_t*>(dst + nt * 8) =
            pack2<T>(o[mt][nt][2 * half] * inv, o[mt][nt][2 * half + 1] * inv);
    }
}

template <class T, int D>
void launch_mma_fa2_v2_dim(const PrefillParams& p, cudaStream_t stream) {
  using S = Fa2V2Shape<T, D>;
  const dim3 grid(static_cast<unsigned>((p.max_q_len + S::kBM - 1) / S::kBM),
                  static_cast<unsigned>(p.num_q_heads), static_cast<unsigned>(p.batch));
  with_source(p, [&](auto src) {
    const auto kernel = mma_fa2_v2_kernel<T, D, decltype(src)>;
    static const bool smem_ok = [&] {
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(S::kSmemBytes)),
            "cudaFuncSetAttribute(prefill mma_fa2_v2)");
      return true;
    }();
    (void)smem_ok;
    kernel<<<grid, kV2Threads, S::kSmemBytes, stream>>>(p, src);
    check_launch("prefill_attention mma_fa2_v2");
  });
}

// Explicitly instantiated per dtype in mma_fa2_v2_<dtype>.cu.
template <class T>
void launch_mma_fa2_v2_typed(const PrefillParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 64:
      return launch_mma_fa2_v2_dim<T, 64>(p, stream);
    case 128:
      return launch_mma_fa2_v2_dim<T, 128>(p, stream);
    default:
      fail("prefill_attention mma_fa2_v2: head_dim must be 64 or 128");
  }
}

}  // namespace klab::cuda::prefill
