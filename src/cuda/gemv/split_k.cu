// gemv_q / split_k: for few rows and long K. A thread-block cluster of 8 blocks shares 4 rows;
// each block takes 1/8 of K (16-byte code loads as in vec16_pipelined), and block 0 of the
// cluster adds the 8 partial sums straight out of the others' shared memory (DSMEM, sm_90), so
// the reduction needs no workspace and no second launch.
#include <cooperative_groups.h>

#include "cuda/common/reduce.cuh"
#include "cuda/gemv/gemv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

namespace {

namespace cg = cooperative_groups;

constexpr int kSplit = 8;  // blocks per cluster (the portable maximum)
constexpr int kWarps = 4;  // one row per warp
constexpr int kUnroll = 2;

template <class T, int Bits, int MT>
__global__ void __cluster_dims__(kSplit, 1, 1) __launch_bounds__(kWarps * 32)
    gemv_split_k_kernel(GemvParams p) {
  constexpr int kPerChunk = 128 / Bits;
  __shared__ float part[kWarps][MT];
  cg::cluster_group cluster = cg::this_cluster();
  const unsigned rank = cluster.block_rank();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t n = static_cast<std::int64_t>(blockIdx.y) * kWarps + warp;
  const bool live = n < p.N;
  const QuantPlainView& w = p.w;
  const CodeDecoder<__half, Bits> dec(plain_zero_point(w));
  const std::uint32_t flip = plain_flip(w);
  const std::int64_t chunks = p.K / kPerChunk;
  const std::int64_t c_begin = chunks * rank / kSplit, c_end = chunks * (rank + 1) / kSplit;
  const std::uint8_t* codes = w.codes + (live ? n : 0) * (p.K * Bits / 8);

  float acc[1][MT] = {};
  if (live) {
    for (std::int64_t base = c_begin + lane; base < c_end; base += 32 * kUnroll) {
      uint4 q[kUnroll][1];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const std::int64_t ci = base + 32 * u;
        q[u][0] = ci < c_end ? load_stream16(codes + ci * 16) : uint4{};
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const std::int64_t ci = base + 32 * u;
        if (ci >= c_end) break;
        const std::int64_t k0 = ci * kPerChunk, grp = k0 >> p.group_shift;
        const float s[1] = {plain_scale(w, n, grp)}, mn[1] = {plain_min(w, n, grp)};
        fma_chunk16<T, Bits, MT, 1>(q[u], s, mn, flip, dec, static_cast<const T*>(p.x), p.K, p.M,
                                    k0, acc);
      }
    }
  }
#pragma unroll
  for (int m = 0; m < MT; ++m) {
    const float v = warp_sum(acc[0][m]);
    if (lane == 0) part[warp][m] = v;
  }
  cluster.sync();  // every block's partials are visible cluster-wide
  if (rank == 0 && live && lane == 0) {
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      if (m >= p.M) break;
      float v = 0.0f;
      for (unsigned r = 0; r < kSplit; ++r) v += *cluster.map_shared_rank(&part[warp][m], r);
      store_out<T>(p, m * p.N + n, v);
    }
  }
  cluster.sync();  // keep every block's shared memory alive until rank 0 has read it
}

}  // namespace

void launch_split_k(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    dispatch_bits(p.w.bits, [&](auto bits) {
      dispatch_m_tile(p.M, [&](auto mt) {
        using T = decltype(t);
        const dim3 grid(kSplit, static_cast<unsigned>((p.N + kWarps - 1) / kWarps));
        gemv_split_k_kernel<T, decltype(bits)::value, decltype(mt)::value>
            <<<grid, kWarps * 32, 0, stream>>>(p);
        check_launch("gemv_split_k_kernel");
      });
    });
  });
}

}  // namespace klab::cuda::gemv_impl
