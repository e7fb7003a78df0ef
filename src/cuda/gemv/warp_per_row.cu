// gemv_q / warp_per_row: a warp per row of W. Each lane takes one 4-byte code word (8 codes
// at 4 bits, 4 at 8 bits) per step, decodes it with the magic-exponent trick, and multiplies
// with x read through L1 (16 or 8 bytes per row of x). All M rows of x share each decoded
// word; a warp reduction finishes each output.
#include "cuda/common/reduce.cuh"
#include "cuda/common/vec.cuh"
#include "cuda/gemv/gemv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

namespace {

constexpr int kWarps = 4;

template <class T, int Bits, int MT>
__global__ void __launch_bounds__(kWarps * 32) gemv_warp_per_row_kernel(GemvParams p) {
  constexpr int kPerWord = 32 / Bits;
  const int lane = threadIdx.x & 31;
  const std::int64_t n = static_cast<std::int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (n >= p.N) return;
  const QuantPlainView& w = p.w;
  const auto* codes = reinterpret_cast<const std::uint32_t*>(w.codes + n * (p.K * Bits / 8));
  const T* x = static_cast<const T*>(p.x);
  const CodeDecoder<__half, Bits> dec(plain_zero_point(w));
  const std::uint32_t flip = plain_flip(w);

  float acc[MT] = {};
  const std::int64_t words = p.K / kPerWord;
  for (std::int64_t wi = lane; wi < words; wi += 32) {
    const std::int64_t k0 = wi * kPerWord;
    const std::int64_t grp = k0 >> p.group_shift;
    const float s = plain_scale(w, n, grp), mn = plain_min(w, n, grp);
    float q[kPerWord];
    decode_word_f32<Bits>(__ldg(codes + wi) ^ flip, dec, q);
#pragma unroll
    for (int i = 0; i < kPerWord; ++i) q[i] = fmaf(q[i], s, mn);
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      if (m >= p.M) break;
      Vec<T, kPerWord> xv;
      xv.load(x + m * p.K + k0);
#pragma unroll
      for (int i = 0; i < kPerWord; ++i) acc[m] = fmaf(q[i], to_f32(xv[i]), acc[m]);
    }
  }
#pragma unroll
  for (int m = 0; m < MT; ++m) {
    const float v = warp_sum(acc[m]);
    if (lane == 0 && m < p.M) store_out<T>(p, m * p.N + n, v);
  }
}

}  // namespace

void launch_warp_per_row(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    dispatch_bits(p.w.bits, [&](auto bits) {
      dispatch_m_tile(p.M, [&](auto mt) {
        using T = decltype(t);
        const auto blocks = static_cast<unsigned>((p.N + kWarps - 1) / kWarps);
        gemv_warp_per_row_kernel<T, decltype(bits)::value, decltype(mt)::value>
            <<<blocks, kWarps * 32, 0, stream>>>(p);
        check_launch("gemv_warp_per_row_kernel");
      });
    });
  });
}

}  // namespace klab::cuda::gemv_impl
