// gemv_q / vec16_pipelined: 2 rows per warp; each lane issues 16-byte streaming code loads
// (32 codes at 4 bits, 16 at 8 bits, always inside one group), 4 per row = 8 independent
// loads in flight before the first is used, then decodes them against x read through L1 with
// 16-byte loads shared by both rows.
#include "cuda/common/reduce.cuh"
#include "cuda/gemv/gemv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

namespace {

constexpr int kWarps = 4;
constexpr int kRows = 2;
constexpr int kUnroll = 4;

template <class T, int Bits, int MT>
__global__ void __launch_bounds__(kWarps * 32) gemv_vec16_pipelined_kernel(GemvParams p) {
  constexpr int kPerChunk = 128 / Bits;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t row0 = (static_cast<std::int64_t>(blockIdx.x) * kWarps + warp) * kRows;
  if (row0 >= p.N) return;
  const QuantPlainView& w = p.w;
  const CodeDecoder<__half, Bits> dec(plain_zero_point(w));
  const std::uint32_t flip = plain_flip(w);
  const std::int64_t chunks = p.K / kPerChunk;
  const std::int64_t row_bytes = p.K * Bits / 8;

  bool live[kRows];
  const std::uint8_t* codes[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    live[r] = row0 + r < p.N;
    codes[r] = w.codes + (live[r] ? row0 + r : row0) * row_bytes;
  }

  float acc[kRows][MT] = {};
  for (std::int64_t base = lane; base < chunks; base += 32 * kUnroll) {
    uint4 q[kUnroll][kRows];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t ci = base + 32 * u;
#pragma unroll
      for (int r = 0; r < kRows; ++r)
        q[u][r] = (ci < chunks && live[r]) ? load_stream16(codes[r] + ci * 16) : uint4{};
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t ci = base + 32 * u;
      if (ci >= chunks) break;
      const std::int64_t k0 = ci * kPerChunk;
      const std::int64_t grp = k0 >> p.group_shift;
      float s[kRows], mn[kRows];
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        const std::int64_t n = live[r] ? row0 + r : row0;
        s[r] = plain_scale(w, n, grp);
        mn[r] = plain_min(w, n, grp);
      }
      fma_chunk16<T, Bits, MT, kRows>(q[u], s, mn, flip, dec, static_cast<const T*>(p.x), p.K, p.M,
                                      k0, acc);
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      const float v = warp_sum(acc[r][m]);
      if (lane == 0 && m < p.M && live[r]) store_out<T>(p, m * p.N + row0 + r, v);
    }
}

}  // namespace

void launch_vec16_pipelined(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    dispatch_bits(p.w.bits, [&](auto bits) {
      dispatch_m_tile(p.M, [&](auto mt) {
        using T = decltype(t);
        constexpr int kRowsPerBlock = kWarps * kRows;
        const auto blocks = static_cast<unsigned>((p.N + kRowsPerBlock - 1) / kRowsPerBlock);
        gemv_vec16_pipelined_kernel<T, decltype(bits)::value, decltype(mt)::value>
            <<<blocks, kWarps * 32, 0, stream>>>(p);
        check_launch("gemv_vec16_pipelined_kernel");
      });
    });
  });
}

}  // namespace klab::cuda::gemv_impl
