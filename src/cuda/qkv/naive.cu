// QKV, rung 1: a thread per output element, scalar. A rotated element reads its pair partner
// from the source row and computes its own sin/cos. Any shape and alignment.
#include <algorithm>

#include "cuda/qkv/qkv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::qkv {

namespace {

template <class T, QkvMode M, bool kHalfSplit>
__global__ void qkv_naive_kernel(QkvParams p) {
  const int heads = p.hq + 2 * p.hkv;
  const std::int64_t row = std::int64_t{heads} * p.head_dim;
  const std::int64_t total = p.tokens * row;
  const int half = p.rot_dim / 2;
  for (std::int64_t idx = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t t = idx / row;
    const int g = static_cast<int>((idx % row) / p.head_dim);
    const int d = static_cast<int>(idx % p.head_dim);
    const TokenRoute<T> r = route_of<T, M>(p, t);
    T* out = head_dst(r, p, g);
    if (!out) continue;
    const T* in = r.src + std::int64_t{g} * p.head_dim;
    float value = to_f32(in[d]);
    if (rotated<M>(p, g) && d < p.rot_dim) {
      const bool first = kHalfSplit ? d < half : d % 2 == 0;
      const int pair = kHalfSplit ? d % half : d / 2;
      const int partner = kHalfSplit ? (first ? d + half : d - half) : (first ? d + 1 : d - 1);
      float s, c;
      rope_sincos(r.pos, rope_inv_freq(pair, p.rot_dim, p.theta, p.inv_freq), s, c);
      const float other = to_f32(in[partner]);
      value = first ? value * c - other * s : value * c + other * s;
    }
    out[d] = from_f32<T>(value);
  }
}

}  // namespace

void launch_naive(const QkvParams& p, cudaStream_t stream) {
  const std::int64_t total = p.tokens * (p.hq + 2 * p.hkv) * p.head_dim;
  if (total == 0) return;
  constexpr int kThreads = 256;
  const auto blocks =
      static_cast<unsigned>(std::min<std::int64_t>(ceil_div(total, kThreads), 1 << 20));
  dispatch(p, [&](auto t, auto mode, auto half_split) {
    qkv_naive_kernel<decltype(t), decltype(mode)::value, decltype(half_split)::value>
        <<<blocks, kThreads, 0, stream>>>(p);
  });
  check_launch("qkv_naive_kernel");
}

}  // namespace klab::cuda::qkv
