// y += bias over the rows of an f16 projection output (QKV biases of qwen2-style models): a
// thread per element, the sum taken in f32 and rounded to f16 once.
#include <cuda_fp16.h>

#include "cuda/common/launch_util.hpp"
#include "cuda/model/model_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::model_glue {

namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) add_bias_kernel(AddBiasParams p) {
  const std::int64_t i = blockIdx.x * std::int64_t{kThreads} + threadIdx.x;
  if (i >= p.rows * p.cols) return;
  const std::int64_t r = i / p.cols, c = i % p.cols;
  __half* y = reinterpret_cast<__half*>(p.y) + r * p.y_stride + c;
  *y = __float2half_rn(__half2float(*y) + p.bias[c]);
}

}  // namespace

void launch_add_bias(const AddBiasParams& p, cudaStream_t stream) {
  const std::int64_t n = p.rows * p.cols;
  if (n == 0) return;
  add_bias_kernel<<<static_cast<unsigned>(ceil_div(n, kThreads)), kThreads, 0, stream>>>(p);
  check_launch("add_bias_kernel");
}

}  // namespace klab::cuda::model_glue
