// gemv_q / multi_row: 4 rows per warp, 16 rows per block. x is staged once per block in shared
// memory as f32 (512 columns at a time), so each decoded x element serves 16 rows and the
// conversion to f32 happens once per block, not once per row. Codes: 4-byte words per lane.
#include "cuda/common/reduce.cuh"
#include "cuda/gemv/gemv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

namespace {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 4;
constexpr int kChunk = 512;  // columns of x staged per step

template <class T, int Bits, int MT>
__global__ void __launch_bounds__(kWarps * 32) gemv_multi_row_kernel(GemvParams p) {
  constexpr int kPerWord = 32 / Bits;
  __shared__ __align__(16) float xs[MT][kChunk];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t row0 = (static_cast<std::int64_t>(blockIdx.x) * kWarps + warp) * kRowsPerWarp;
  const QuantPlainView& w = p.w;
  const T* x = static_cast<const T*>(p.x);
  const CodeDecoder<__half, Bits> dec(plain_zero_point(w));
  const std::uint32_t flip = plain_flip(w);
  const std::int64_t row_words = p.K / kPerWord;

  float acc[kRowsPerWarp][MT] = {};
  for (std::int64_t kc = 0; kc < p.K; kc += kChunk) {
    const int len = static_cast<int>(min(static_cast<std::int64_t>(kChunk), p.K - kc));
    __syncthreads();  // the previous chunk is no longer read
    for (int i = threadIdx.x; i < MT * len; i += blockDim.x) {
      const int m = i / len, k = i % len;
      xs[m][k] = m < p.M ? to_f32(x[m * p.K + kc + k]) : 0.0f;
    }
    __syncthreads();
    const int words = len / kPerWord;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const std::int64_t n = row0 + r;
      if (n >= p.N) continue;
      const auto* codes =
          reinterpret_cast<const std::uint32_t*>(w.codes) + n * row_words + kc / kPerWord;
      for (int wi = lane; wi < words; wi += 32) {
        const std::int64_t grp = (kc + wi * kPerWord) >> p.group_shift;
        const float s = plain_scale(w, n, grp), mn = plain_min(w, n, grp);
        float q[kPerWord];
        decode_word_f32<Bits>(__ldg(codes + wi) ^ flip, dec, q);
#pragma unroll
        for (int m = 0; m < MT; ++m) {
          const float4* xv = reinterpret_cast<const float4*>(&xs[m][wi * kPerWord]);
#pragma unroll
          for (int v = 0; v < kPerWord / 4; ++v) {
            const float4 x4 = xv[v];
            acc[r][m] = fmaf(fmaf(q[4 * v + 0], s, mn), x4.x, acc[r][m]);
            acc[r][m] = fmaf(fmaf(q[4 * v + 1], s, mn), x4.y, acc[r][m]);
            acc[r][m] = fmaf(fmaf(q[4 * v + 2], s, mn), x4.z, acc[r][m]);
            acc[r][m] = fmaf(fmaf(q[4 * v + 3], s, mn), x4.w, acc[r][m]);
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      const float v = warp_sum(acc[r][m]);
      if (lane == 0 && m < p.M && row0 + r < p.N) store_out<T>(p, m * p.N + row0 + r, v);
    }
}

}  // namespace

void launch_multi_row(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    dispatch_bits(p.w.bits, [&](auto bits) {
      dispatch_m_tile(p.M, [&](auto mt) {
        using T = decltype(t);
        constexpr int kRowsPerBlock = kWarps * kRowsPerWarp;
        const auto blocks = static_cast<unsigned>((p.N + kRowsPerBlock - 1) / kRowsPerBlock);
        gemv_multi_row_kernel<T, decltype(bits)::value, decltype(mt)::value>
            <<<blocks, kWarps * 32, 0, stream>>>(p);
        check_launch("gemv_multi_row_kernel");
      });
    });
  });
}

}  // namespace klab::cuda::gemv_impl
