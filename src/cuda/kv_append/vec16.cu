// KV append, a thread per 16-byte chunk of one (token, head) row: every load and store is one
// 16-byte access, and consecutive threads cover consecutive chunks of a row.
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/vec.cuh"
#include "cuda/kv_append/kv_append_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::kv_append_detail {

namespace {

template <class T>
__global__ void append_vec16_kernel(AppendParams p) {
  constexpr int kVec = kVec16<T>;
  const int heads = p.cache.num_kv_heads;
  const int chunks = p.cache.head_dim / kVec;
  const std::int64_t idx = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (idx >= std::int64_t{p.tokens} * heads * chunks) return;
  const int c = static_cast<int>(idx % chunks);
  const std::int64_t token_head = idx / chunks;
  const int h = static_cast<int>(token_head % heads);
  const std::int64_t t = token_head / heads;

  const std::int64_t dst = p.cache.offset(p.seq[t], p.pos[t], h);
  if (dst < 0) {
    if (p.dropped && h == 0 && c == 0) atomicAdd(p.dropped, 1);
    return;
  }
  const auto* k_src = static_cast<const T*>(p.k_new) + t * p.k_token_stride + h * p.k_head_stride;
  const auto* v_src = static_cast<const T*>(p.v_new) + t * p.v_token_stride + h * p.v_head_stride;
  Vec16<T> k, v;
  k.load(k_src + c * kVec);
  v.load(v_src + c * kVec);
  k.store(static_cast<T*>(p.cache.k) + dst + c * kVec);
  v.store(static_cast<T*>(p.cache.v) + dst + c * kVec);
}

}  // namespace

bool vec16_supports(const AppendParams& p) {
  const std::int64_t vec = 16 / static_cast<std::int64_t>(dtype_size(p.cache.dtype));
  const std::int64_t strides[] = {p.cache.block_stride, p.cache.row_stride, p.cache.head_stride,
                                  p.k_token_stride,     p.k_head_stride,    p.v_token_stride,
                                  p.v_head_stride,      p.cache.head_dim};
  for (std::int64_t s : strides)
    if (s % vec != 0) return false;
  return is_aligned(p.cache.k, 16) && is_aligned(p.cache.v, 16) && is_aligned(p.k_new, 16) &&
         is_aligned(p.v_new, 16);
}

void launch_vec16(const AppendParams& p, cudaStream_t stream) {
  if (p.tokens == 0) return;
  dispatch_float(p.cache.dtype, [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t chunks =
        std::int64_t{p.tokens} * p.cache.num_kv_heads * (p.cache.head_dim / kVec16<T>);
    constexpr int kThreads = 256;
    append_vec16_kernel<T>
        <<<static_cast<unsigned>(ceil_div(chunks, kThreads)), kThreads, 0, stream>>>(p);
    check_launch("kv_append vec16");
  });
}

}  // namespace klab::cuda::kv_append_detail
