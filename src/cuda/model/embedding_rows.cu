// Embedding lookup straight from the uploaded table: a block per token, a thread per element.
// Quantized rows are decoded from the plain layout exactly as klab::QuantMatrix::value does
// (float(q) * scale, then + min, each rounded in f32: no FMA contraction), so the CUDA engine
// starts from the same residual stream as the CPU one.
#include <cuda_fp16.h>

#include "cuda/model/model_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::model_glue {

namespace {

constexpr int kThreads = 128;

__device__ __forceinline__ float half_bits_to_float(std::uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}

// Signed code of element `col` of `row` (QuantMatrix::code semantics).
__device__ __forceinline__ int quant_code(const QuantPlainView& w, std::int64_t row,
                                          std::int64_t col) {
  const std::int64_t row_bytes = w.cols * w.bits / 8;
  const std::uint8_t* codes = w.codes + row * row_bytes;
  if (w.bits == 4) {
    const std::uint8_t b = codes[col / 2];
    const int n = (col & 1) ? (b >> 4) : (b & 15);
    return w.asymmetric ? n : n - 8;
  }
  const std::uint8_t b = codes[col];
  return w.asymmetric ? static_cast<int>(b) : static_cast<int>(static_cast<std::int8_t>(b));
}

__global__ void __launch_bounds__(kThreads) embedding_rows_kernel(EmbeddingParams p) {
  const std::int64_t t = blockIdx.x;
  const std::int64_t row = p.ids[t];
  float* out = p.out + t * p.out_stride;
  const bool valid = row >= 0 && row < p.rows;
  for (std::int64_t c = threadIdx.x; c < p.cols; c += blockDim.x) {
    float v = 0.0f;
    if (valid && p.quant.codes) {
      const std::int64_t g = row * (p.cols / p.quant.group) + c / p.quant.group;
      v = __fmul_rn(static_cast<float>(quant_code(p.quant, row, c)),
                    half_bits_to_float(p.quant.scales[g]));
      if (p.quant.asymmetric) v = __fadd_rn(v, half_bits_to_float(p.quant.mins[g]));
    } else if (valid) {
      v = half_bits_to_float(p.dense[row * p.cols + c]);
    }
    out[c] = v;
  }
}

}  // namespace

void launch_embedding_rows(const EmbeddingParams& p, cudaStream_t stream) {
  if (p.tokens == 0) return;
  embedding_rows_kernel<<<static_cast<unsigned>(p.tokens), kThreads, 0, stream>>>(p);
  check_launch("embedding_rows_kernel");
}

}  // namespace klab::cuda::model_glue
