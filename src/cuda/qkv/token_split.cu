// QKV, rung 4: a token's work items (TokenItems) spread over a row of blocks, grid
// (tokens, parts), one 16-byte item per thread. For the few tokens of a decode step, where a
// block per token walks hundreds of items one dependent load at a time. Each thread issues its
// source loads first (they need no route), then looks the route up itself (the same few
// broadcast loads in every thread, no shared-memory hand-off) while the block computes the
// token's sin/cos table (only blocks holding rotated items), so a step costs about one load
// round trip after the launch.
#include <algorithm>

#include "cuda/attn_decode/pdl.cuh"
#include "cuda/qkv/qkv_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::qkv {

namespace {

constexpr int kThreads = 128;

template <class T, QkvMode M, bool kHalfSplit>
__global__ void __launch_bounds__(kThreads) qkv_token_split_kernel(QkvParams p) {
  extern __shared__ float table[];  // sin[rot/2], cos[rot/2]
  // PDL (no-ops without the attribute): the next kernel (decode attention) may be scheduled
  // now; qkv, the positions and the sequence ids come from before, so wait for them.
  decode::pdl_launch_dependents();
  decode::pdl_wait();
  const std::int64_t t = blockIdx.x;
  const TokenItems<M, kHalfSplit, kVec16<T>> items(p);
  const int first = static_cast<int>(blockIdx.y) * kThreads;
  const int w = first + static_cast<int>(threadIdx.x);
  const bool valid = w < items.total;

  TokenItem it;
  ItemData<T> x{};
  if (valid) {
    it = items.at(w);
    x = load_item<T, kHalfSplit>(it, static_cast<const T*>(p.qkv) + t * p.qkv_stride, p);
  }
  const TokenRoute<T> r = route_of<T, M>(p, t);
  if constexpr (M != QkvMode::split) {
    if (first < items.rope_work) fill_sincos_table(p, r.pos, table);  // uniform over the block
    __syncthreads();
  }
  if (!valid) return;
  if (T* out = head_dst(r, p, it.g)) store_item<T, kHalfSplit>(it, x, out, table, p);
}

}  // namespace

bool token_split_fits(const QkvParams& p) {
  const std::int64_t items = std::int64_t{p.hq + 2 * p.hkv} * p.head_dim;  // >= the item count
  return vectorizable(p) && ceil_div(items, kThreads) <= kMaxGridY;
}

void launch_token_split(const QkvParams& p, cudaStream_t stream) {
  if (p.tokens == 0) return;
  const std::size_t smem =
      p.mode == QkvMode::split ? 0 : sizeof(float) * static_cast<std::size_t>(p.rot_dim);
  dispatch(p, [&](auto t, auto mode, auto half_split) {
    using T = decltype(t);
    constexpr QkvMode M = decltype(mode)::value;
    constexpr bool kHalfSplit = decltype(half_split)::value;
    const int parts =
        static_cast<int>(ceil_div(TokenItems<M, kHalfSplit, kVec16<T>>(p).total, kThreads));
    if (parts == 0) return;
    const dim3 grid(static_cast<unsigned>(p.tokens), static_cast<unsigned>(parts));
    decode::launch_maybe_pdl(qkv_token_split_kernel<T, M, kHalfSplit>, grid, dim3(kThreads), smem,
                             stream, p.pdl, "qkv_token_split_kernel", p);
  });
}

}  // namespace klab::cuda::qkv
