// Prefill variant `mma_fa2`: FlashAttention-2 on mma.sync tensor cores.
//
// A block of 4 warps owns a 64-row query tile of one (sequence, query head); warp w owns rows
// 16w..16w+15 and keeps their Q fragments in registers for the whole key loop. 64-key K/V tiles
// are streamed through shared memory by cp.async, double-buffered (tile j+1 loads while tile j
// computes; the Q staging buffer is recycled as the second K stage). Rows of every tile are
// XOR-swizzled in 16-byte chunks so ldmatrix reads are bank-conflict free. Per tile:
//   S = Q K^T        ldmatrix (K rows = mma B columns), mma m16n8k16, f32 accumulators
//   online softmax   row max / sum over the 4 lanes sharing a row (shuffles), exp2 with the
//                    scale * log2 e folded into one FFMA; masked keys (past the length, or past
//                    the causal diagonal offset by the cached prefix) become -inf
//   O += P V         P re-packed from the S accumulators straight into A fragments (no shared
//                    memory round trip), V via ldmatrix.trans
// Causal blocks stop at the last key tile they can see and run heaviest-first. The K/V source
// (packed varlen or a contiguous/paged cache) is a template parameter; rows it cannot address
// are zero-filled by cp.async.
#pragma once

#include <cstdint>

#include "cuda/attn_prefill/prefill_common.cuh"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/mma.cuh"
#include "cuda/common/smem_tiles.cuh"
#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda::prefill {

constexpr int kFa2Warps = 4;
constexpr int kFa2Threads = kFa2Warps * 32;

template <class T, int D>
struct Fa2Shape {
  static constexpr int kBM = 16 * kFa2Warps;  // query rows per block
  static constexpr int kBN = 64;              // keys per tile
  static constexpr int kChunks = D / 8;       // 16-byte chunks per row
  static constexpr int kTileElems = kBN * D;
  // K stages 0, 1 then V stages 0, 1; Q is staged in K stage 1 before the loop starts.
  static constexpr std::size_t kSmemBytes = sizeof(T) * 4u * kTileElems;
  static_assert(kBM == kBN, "the Q tile reuses a K stage");
  static_assert(D % 16 == 0 && kChunks >= 8, "head dim 64 or 128");
};

template <class T, int D, class Src>
__global__ void __launch_bounds__(kFa2Threads) mma_fa2_kernel(PrefillParams p, Src src) {
  using S = Fa2Shape<T, D>;
  constexpr int kKSteps = D / 16;      // QK^T reduction steps
  constexpr int kNTiles = S::kBN / 8;  // S column tiles
  constexpr int kDTiles = D / 8;       // O column tiles
  extern __shared__ __align__(128) unsigned char smem[];
  T* sk = reinterpret_cast<T*>(smem);
  T* sv = sk + 2 * S::kTileElems;
  T* sq = sk + S::kTileElems;

  const int b = blockIdx.z, h = blockIdx.y;
  const int tile = p.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  const auto seq = src.seq(b);
  const SeqRows rows = seq_rows(p, b, seq.len);
  const int m0 = tile * S::kBM;
  if (m0 >= rows.q_len) return;
  const int last_key = p.causal ? rows.visible(m0 + S::kBM - 1, true) : rows.k_len;
  const int ntiles = (last_key + S::kBN - 1) / S::kBN;
  const int hkv = h / (p.num_q_heads / p.num_kv_heads);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  const T* kg = static_cast<const T*>(kv_k(src)) + hkv * kv_head_stride(src);
  const T* vg = static_cast<const T*>(kv_v(src)) + hkv * kv_head_stride(src);
  auto load_kv = [&](int t, int stage) {
#pragma unroll
    for (int i = 0; i < S::kBN * S::kChunks / kFa2Threads; ++i) {
      const int idx = tid + i * kFa2Threads;
      const int row = idx / S::kChunks, c = idx % S::kChunks;
      const int pos = t * S::kBN + row;
      const std::int64_t off = pos < rows.k_len ? seq.row_offset(pos) : -1;
      const std::int64_t at = (off >= 0 ? off : 0) + c * 8;
      const int dst = stage * S::kTileElems + swizzled_chunk<S::kChunks>(row, c) * 8;
      cp_async16(sk + dst, kg + at, off >= 0);
      cp_async16(sv + dst, vg + at, off >= 0);
    }
  };

  {  // Q tile (rows past the sequence zero-filled) and the first K/V tile.
    const T* qg = static_cast<const T*>(p.q) + h * p.q_stride_h;
#pragma unroll
    for (int i = 0; i < S::kBM * S::kChunks / kFa2Threads; ++i) {
      const int idx = tid + i * kFa2Threads;
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
  std::uint32_t qf[kKSteps][4];
#pragma unroll
  for (int kk = 0; kk < kKSteps; ++kk)
    ldmatrix_x4(qf[kk],
                sq + swizzled_chunk<S::kChunks>(warp * 16 + lane % 16, kk * 2 + lane / 16) * 8);
  __syncthreads();  // K stage 1 (the Q staging buffer) is refilled below

  float o[kDTiles][4];
#pragma unroll
  for (int nt = 0; nt < kDTiles; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[nt][e] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
  const float sl = p.scale * kLog2e;
  const int row0 = m0 + warp * 16 + lane / 4;  // this lane's rows: row0 and row0 + 8
  const int warp_first_visible = rows.visible(m0 + warp * 16, p.causal);

  for (int t = 0; t < ntiles; ++t) {
    if (t + 1 < ntiles) load_kv(t + 1, (t + 1) & 1);
    cp_async_commit();
    const T* tk = sk + (t & 1) * S::kTileElems;
    const T* tv = sv + (t & 1) * S::kTileElems;

    float s[kNTiles][4];
#pragma unroll
    for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk)
#pragma unroll
      for (int np = 0; np < kNTiles / 2; ++np) {
        std::uint32_t r[4];
        ldmatrix_x4(r, tk + swizzled_chunk<S::kChunks>(np * 16 + lane % 8 + (lane / 16) * 8,
                                                       kk * 2 + (lane / 8) % 2) *
                                8);
        const std::uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
        mma_m16n8k16<T>(s[2 * np], qf[kk], b0);
        mma_m16n8k16<T>(s[2 * np + 1], qf[kk], b1);
      }

    // Mask keys past the length or the causal diagonal (only tiles that reach them).
    const int key0 = t * S::kBN;
    if (key0 + S::kBN > warp_first_visible) {
      const int vis0 = rows.visible(row0, p.causal), vis1 = rows.visible(row0 + 8, p.causal);
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = key0 + nt * 8 + (lane % 4) * 2 + (e & 1);
          if (key >= (e < 2 ? vis0 : vis1)) s[nt][e] = -INFINITY;
        }
    }

    // Online softmax, rows row0 (elements 0, 1) and row0 + 8 (elements 2, 3).
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float mx = row_max[half];
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
        mx = fmaxf(mx, fmaxf(s[nt][2 * half], s[nt][2 * half + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float base = mx == -INFINITY ? 0.0f : mx * sl;
      const float alpha = exp2f(row_max[half] * sl - base);
      row_max[half] = mx;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int e = 2 * half; e < 2 * half + 2; ++e) {
          s[nt][e] = exp2f(fmaf(s[nt][e], sl, -base));
          sum += s[nt][e];
        }
      row_sum[half] = row_sum[half] * alpha + sum;  // lane-partial; reduced at the end
#pragma unroll
      for (int nt = 0; nt < kDTiles; ++nt) {
        o[nt][2 * half] *= alpha;
        o[nt][2 * half + 1] *= alpha;
      }
    }

    // O += P V: S accumulators of key tiles 2kk, 2kk+1 are exactly P's A fragment for keys
    // 16kk..16kk+15.
#pragma unroll
    for (int kk = 0; kk < S::kBN / 16; ++kk) {
      const std::uint32_t a[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]),
                                  pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                                  pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                  pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < kDTiles / 2; ++dp) {
        std::uint32_t r[4];
        ldmatrix_x4_trans(r,
                          tv + swizzled_chunk<S::kChunks>(kk * 16 + lane % 8 + ((lane / 8) % 2) * 8,
                                                          dp * 2 + lane / 16) *
                                   8);
        const std::uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
        mma_m16n8k16<T>(o[2 * dp], a, b0);
        mma_m16n8k16<T>(o[2 * dp + 1], a, b1);
      }
    }
    cp_async_wait<0>();
    __syncthreads();  // tile t + 1 has landed for everyone; stage t & 1 is free
  }

#pragma unroll
  for (int half = 0; half < 2; ++half) {
    float sum = row_sum[half];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int row = row0 + 8 * half;
    if (row >= rows.q_len) continue;
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    T* dst = static_cast<T*>(p.out) + std::int64_t{rows.q_begin + row} * p.out_stride_t +
             h * p.out_stride_h + (lane % 4) * 2;
#pragma unroll
    for (int nt = 0; nt < kDTiles; ++nt)
      *reinterpret_cast<std::uint32_t*>(dst + nt * 8) =
          pack2<T>(o[nt][2 * half] * inv, o[nt][2 * half + 1] * inv);
  }
}

template <class T, int D>
void launch_mma_fa2_dim(const PrefillParams& p, cudaStream_t stream) {
  using S = Fa2Shape<T, D>;
  const dim3 grid(static_cast<unsigned>((p.max_q_len + S::kBM - 1) / S::kBM),
                  static_cast<unsigned>(p.num_q_heads), static_cast<unsigned>(p.batch));
  with_source(p, [&](auto src) {
    const auto kernel = mma_fa2_kernel<T, D, decltype(src)>;
    static const bool smem_ok = [&] {
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(S::kSmemBytes)),
            "cudaFuncSetAttribute(prefill mma_fa2)");
      return true;
    }();
    (void)smem_ok;
    kernel<<<grid, kFa2Threads, S::kSmemBytes, stream>>>(p, src);
    check_launch("prefill_attention mma_fa2");
  });
}

// Explicitly instantiated per dtype in mma_fa2_<dtype>.cu.
template <class T>
void launch_mma_fa2_typed(const PrefillParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 64:
      return launch_mma_fa2_dim<T, 64>(p, stream);
    case 128:
      return launch_mma_fa2_dim<T, 128>(p, stream);
    default:
      fail("prefill_attention mma_fa2: head_dim must be 64 or 128");
  }
}

}  // namespace klab::cuda::prefill
