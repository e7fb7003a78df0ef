// QKV, rung 3: a block per token. The rope modes compute the token's rot_dim/2 sin/cos once
// into shared memory (instead of once per head), then the block walks a dense list of 16-byte
// work items: rotated pairs / vectors of the q and k heads, copies of their unrotated tail,
// copies of the v heads. No thread idles on a partner vector, and the route (positions,
// sequence, block table) is looked up once per token.
#include "cuda/qkv/qkv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::qkv {

namespace {

constexpr int kThreads = 128;

template <class T, QkvMode M, bool kHalfSplit>
__global__ void __launch_bounds__(kThreads) qkv_token_per_block_kernel(QkvParams p) {
  constexpr int V = kVec16<T>;
  constexpr bool kRope = M != QkvMode::split;
  extern __shared__ float table[];  // sin[rot/2], cos[rot/2]
  const int half = p.rot_dim / 2;
  const std::int64_t t = blockIdx.x;

  __shared__ TokenRoute<T> route;
  if (threadIdx.x == 0) route = route_of<T, M>(p, t);
  if constexpr (kRope) {
    const std::int32_t pos = p.positions[t];
    for (int i = threadIdx.x; i < half; i += blockDim.x)
      rope_sincos(pos, rope_inv_freq(i, p.rot_dim, p.theta, p.inv_freq), table[i], table[half + i]);
  }
  __syncthreads();
  const TokenRoute<T> r = route;

  const int vecs = p.head_dim / V;
  // Work items per rotated head: half_split pairs count once, their partner vectors not at all.
  const int rot_items = kRope ? vecs - (kHalfSplit ? half / V : 0) : 0;
  const int rotated_heads = kRope ? p.hq + p.hkv : 0;
  const int rope_work = rotated_heads * rot_items;
  const int copy_heads = p.hq + 2 * p.hkv - rotated_heads;
  const int total = rope_work + copy_heads * vecs;
  for (int w = threadIdx.x; w < total; w += blockDim.x) {
    int g, d;
    bool rotate = false;
    if (kRope && w < rope_work) {
      g = w / max(rot_items, 1);  // rot_items >= 1 in the rope modes
      const int u = w - g * rot_items;
      if constexpr (kHalfSplit) {
        rotate = u * V < half;
        d = rotate ? u * V : u * V + half;  // past the pairs: the unrotated tail
      } else {
        d = u * V;
        rotate = d < p.rot_dim;
      }
    } else {
      g = rotated_heads + (w - rope_work) / vecs;
      d = ((w - rope_work) % vecs) * V;
    }
    T* out = head_dst(r, p, g);
    if (!out) continue;
    const T* in = r.src + std::int64_t{g} * p.head_dim;
    if (!rotate) {
      Vec<T, V> x;
      x.load(in + d);
      x.store(out + d);
      continue;
    }
    const float* s = table + (kHalfSplit ? d : d / 2);
    const float* c = s + half;
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
}

}  // namespace

void launch_token_per_block(const QkvParams& p, cudaStream_t stream) {
  if (p.tokens == 0) return;
  const std::size_t smem =
      p.mode == QkvMode::split ? 0 : sizeof(float) * static_cast<std::size_t>(p.rot_dim);
  dispatch(p, [&](auto t, auto mode, auto half_split) {
    qkv_token_per_block_kernel<decltype(t), decltype(mode)::value, decltype(half_split)::value>
        <<<static_cast<unsigned>(p.tokens), kThreads, smem, stream>>>(p);
  });
  check_launch("qkv_token_per_block_kernel");
}

}  // namespace klab::cuda::qkv
