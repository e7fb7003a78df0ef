// dequant / elementwise: a thread per element; reads its code byte, scale and min directly.
#include "cuda/dequant/dequant_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::dequant_impl {

namespace {

template <class Out, int Bits>
__global__ void dequant_elementwise_kernel(DequantParams p) {
  const QuantPlainView& w = p.w;
  const std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= w.rows * w.cols) return;
  const std::int64_t n = idx / w.cols, k = idx % w.cols;
  const std::int64_t grp = n * (w.cols / w.group) + k / w.group;
  int q;
  if constexpr (Bits == 4) {
    const std::uint8_t b = w.codes[idx / 2];
    q = ((k & 1) ? (b >> 4) : (b & 15)) - (w.asymmetric ? 0 : 8);
  } else {
    const std::uint8_t b = w.codes[idx];
    q = w.asymmetric ? b : static_cast<std::int8_t>(b);
  }
  const float s = half_bits_to_float(w.scales[grp]);
  const float mn = w.asymmetric ? half_bits_to_float(w.mins[grp]) : 0.0f;
  static_cast<Out*>(p.out)[idx] =
      from_f32<Out>(dequant_value(static_cast<float>(q), s, mn, w.asymmetric));
}

}  // namespace

void launch_elementwise(const DequantParams& p, cudaStream_t stream) {
  dispatch_out(p.out_dtype, [&](auto o) {
    dispatch_bits(p.w.bits, [&](auto bits) {
      constexpr int kThreads = 256;
      const auto blocks = static_cast<unsigned>((p.w.rows * p.w.cols + kThreads - 1) / kThreads);
      dequant_elementwise_kernel<decltype(o), decltype(bits)::value>
          <<<blocks, kThreads, 0, stream>>>(p);
      check_launch("dequant_elementwise_kernel");
    });
  });
}

}  // namespace klab::cuda::dequant_impl
