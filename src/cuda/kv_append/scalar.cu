// KV append, a thread per element: any alignment and strides (the fallback of vec16).
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/kv_append/kv_append_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::kv_append_detail {

namespace {

template <class T>
__global__ void append_scalar_kernel(AppendParams p) {
  const int heads = p.cache.num_kv_heads, dim = p.cache.head_dim;
  const std::int64_t idx = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (idx >= std::int64_t{p.tokens} * heads * dim) return;
  const int d = static_cast<int>(idx % dim);
  const std::int64_t token_head = idx / dim;
  const int h = static_cast<int>(token_head % heads);
  const std::int64_t t = token_head / heads;

  const std::int64_t dst = p.cache.offset(p.seq[t], p.pos[t], h);
  if (dst < 0) {
    if (p.dropped && h == 0 && d == 0) atomicAdd(p.dropped, 1);
    return;
  }
  static_cast<T*>(p.cache.k)[dst + d] =
      static_cast<const T*>(p.k_new)[t * p.k_token_stride + h * p.k_head_stride + d];
  static_cast<T*>(p.cache.v)[dst + d] =
      static_cast<const T*>(p.v_new)[t * p.v_token_stride + h * p.v_head_stride + d];
}

}  // namespace

void launch_scalar(const AppendParams& p, cudaStream_t stream) {
  if (p.tokens == 0) return;
  dispatch_float(p.cache.dtype, [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t n = std::int64_t{p.tokens} * p.cache.num_kv_heads * p.cache.head_dim;
    constexpr int kThreads = 256;
    append_scalar_kernel<T>
        <<<static_cast<unsigned>(ceil_div(n, kThreads)), kThreads, 0, stream>>>(p);
    check_launch("kv_append scalar");
  });
}

}  // namespace klab::cuda::kv_append_detail
