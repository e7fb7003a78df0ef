// QKV, rung 3: a block per token. The rope modes compute the token's rot_dim/2 sin/cos once
// into shared memory (instead of once per head), then the block walks a dense list of 16-byte
// work items (TokenItems): rotated pairs / vectors of the q and k heads, copies of their
// unrotated tail, copies of the v heads. No thread idles on a partner vector, and the route
// (positions, sequence, block table) is looked up once per token. Meant for many tokens
// (prefill); for few, token_split spreads a token over several blocks.
#include "cuda/qkv/qkv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::qkv {

namespace {

constexpr int kThreads = 128;

template <class T, QkvMode M, bool kHalfSplit>
__global__ void __launch_bounds__(kThreads) qkv_token_per_block_kernel(QkvParams p) {
  extern __shared__ float table[];  // sin[rot/2], cos[rot/2]
  const std::int64_t t = blockIdx.x;

  __shared__ TokenRoute<T> route;
  if (threadIdx.x == 0) route = route_of<T, M>(p, t);
  if constexpr (M != QkvMode::split) fill_sincos_table(p, p.positions[t], table);
  __syncthreads();
  const TokenRoute<T> r = route;

  const TokenItems<M, kHalfSplit, kVec16<T>> items(p);
  for (int w = threadIdx.x; w < items.total; w += blockDim.x) {
    const TokenItem it = items.at(w);
    T* out = head_dst(r, p, it.g);
    if (!out) continue;
    ItemData<T> x = load_item<T, kHalfSplit>(it, r.src, p);
    store_item<T, kHalfSplit>(it, x, out, table, p);
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
