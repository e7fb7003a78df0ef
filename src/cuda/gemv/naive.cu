// gemv_q / naive: one thread per output y[m, n], one element at a time straight from the plain
// layout, exact f32 dequantization (q * scale + min). The obviously-right GPU baseline; works
// for any M.
#include "cuda/gemv/gemv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::gemv_impl {

namespace {

template <class T>
__device__ float dot_row(const QuantPlainView& w, std::int64_t n, const T* __restrict__ x) {
  const int z = plain_zero_point(w);
  const std::int64_t row_bytes = w.cols * w.bits / 8;
  const std::uint8_t* codes = w.codes + n * row_bytes;
  float acc = 0.0f;
  for (std::int64_t k0 = 0; k0 < w.cols; k0 += w.group) {
    const std::int64_t grp = k0 / w.group;
    const float s = plain_scale(w, n, grp), mn = plain_min(w, n, grp);
    for (int i = 0; i < w.group; ++i) {
      const std::int64_t k = k0 + i;
      int code;
      if (w.bits == 4) {
        const std::uint8_t b = codes[k / 2];
        code = (k & 1) ? (b >> 4) : (b & 15);
      } else {
        code = w.asymmetric ? codes[k] : (codes[k] ^ 0x80);
      }
      acc += fmaf(static_cast<float>(code - z), s, mn) * to_f32(x[k]);
    }
  }
  return acc;
}

template <class T>
__global__ void gemv_naive_kernel(GemvParams p) {
  const std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= p.M * p.N) return;
  const std::int64_t m = idx / p.N, n = idx % p.N;
  const T* x = static_cast<const T*>(p.x) + m * p.K;
  const float a = dot_row(p.w, n, x);
  const float up = p.epilogue == Epilogue::swiglu ? dot_row(p.w_up, n, x) : 0.0f;
  store_epilogue<T>(p, idx, a, up);
}

}  // namespace

void launch_naive(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) {
    using T = decltype(t);
    constexpr int kThreads = 128;
    const auto blocks = static_cast<unsigned>((p.M * p.N + kThreads - 1) / kThreads);
    gemv_naive_kernel<T><<<blocks, kThreads, 0, stream>>>(p);
    check_launch("gemv_naive_kernel");
  });
}

}  // namespace klab::cuda::gemv_impl
