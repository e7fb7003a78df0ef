// Elementwise, rung 2: a thread per 16-byte vector of each operand (one ld.global.v4 per
// input, one st.global.v4), one vector per thread.
#include "cuda/elementwise/ew_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::elementwise {

namespace {

constexpr int kThreads = 256;

template <class T, class Op>
__global__ void __launch_bounds__(kThreads) ew_vec16_kernel(EwParams p, Op op) {
  constexpr int V = kVec16<T>;
  const std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (i >= p.rows * (p.cols / V)) return;
  const Offsets o = offsets_of(p, i, V);
  Vec<T, V> a, b;
  a.load(static_cast<const T*>(p.a) + o.a);
  b.load(static_cast<const T*>(p.b) + o.b);
  apply(a, b, op).store(static_cast<T*>(p.out) + o.out);
}

}  // namespace

bool vectorizable(const EwParams& p) {
  const auto vec = static_cast<std::int64_t>(16 / dtype_size(p.dtype));
  return p.cols % vec == 0 && p.out_stride % vec == 0 && p.a_stride % vec == 0 &&
         p.b_stride % vec == 0 && is_aligned(p.out, 16) && is_aligned(p.a, 16) &&
         is_aligned(p.b, 16);
}

void launch_vec16(const EwParams& p, cudaStream_t stream) {
  dispatch(p, [&](auto t, auto op) {
    using T = decltype(t);
    const std::int64_t vectors = p.rows * (p.cols / kVec16<T>);
    if (vectors == 0) return;
    ew_vec16_kernel<T>
        <<<static_cast<unsigned>(ceil_div(vectors, kThreads)), kThreads, 0, stream>>>(p, op);
    check_launch("ew_vec16_kernel");
  });
}

}  // namespace klab::cuda::elementwise
