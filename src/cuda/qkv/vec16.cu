// QKV, rung 2: a thread per 16-byte unit of a head. In rotated heads a half_split unit is the
// vector at dim i with its partner at i + rot/2 (the threads of the partner vectors idle), an
// interleaved unit one vector of adjacent pairs; each thread computes the sin/cos of its
// pairs. Other units are plain 16-byte copies.
#include <algorithm>

#include "cuda/qkv/qkv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::qkv {

namespace {

constexpr int kThreads = 256;

template <class T, QkvMode M, bool kHalfSplit>
__global__ void __launch_bounds__(kThreads) qkv_vec16_kernel(QkvParams p) {
  constexpr int V = kVec16<T>;
  constexpr int kPairs = kHalfSplit ? V : V / 2;
  const int units = p.head_dim / V;
  const int heads = p.hq + 2 * p.hkv;
  const std::int64_t idx = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (idx >= p.tokens * heads * units) return;
  const std::int64_t t = idx / (std::int64_t{heads} * units);
  const int g = static_cast<int>((idx / units) % heads);
  const int u = static_cast<int>(idx % units);
  const TokenRoute<T> r = route_of<T, M>(p, t);
  T* out = head_dst(r, p, g);
  if (!out) return;
  const T* in = r.src + std::int64_t{g} * p.head_dim;
  const int half = p.rot_dim / 2;
  const int d = u * V;
  if (!rotated<M>(p, g) || d >= p.rot_dim) {
    Vec<T, V> x;
    x.load(in + d);
    x.store(out + d);
    return;
  }
  if (kHalfSplit && d >= half) return;  // moved by the thread of its partner vector
  float s[kPairs], c[kPairs];
  const int first_pair = kHalfSplit ? d : d / 2;
#pragma unroll
  for (int j = 0; j < kPairs; ++j)
    rope_sincos(r.pos, rope_inv_freq(first_pair + j, p.rot_dim, p.theta, p.inv_freq), s[j], c[j]);
  if constexpr (kHalfSplit) {
    Vec<T, V> lo, hi;
    lo.load(in + d);
    hi.load(in + d + half);
    rotate_half_split(lo, hi, s, c);
    lo.store(out + d);
    hi.store(out + d + half);
  } else {
    Vec<T, V> x;
    x.load(in + d);
    rotate_interleaved(x, s, c);
    x.store(out + d);
  }
}

}  // namespace

void launch_vec16(const QkvParams& p, cudaStream_t stream) {
  dispatch(p, [&](auto t, auto mode, auto half_split) {
    using T = decltype(t);
    const std::int64_t total = p.tokens * (p.hq + 2 * p.hkv) * (p.head_dim / kVec16<T>);
    if (total == 0) return;
    qkv_vec16_kernel<T, decltype(mode)::value, decltype(half_split)::value>
        <<<static_cast<unsigned>(ceil_div(total, kThreads)), kThreads, 0, stream>>>(p);
    check_launch("qkv_vec16_kernel");
  });
}

}  // namespace klab::cuda::qkv
