// What the engine's glue kernels launch on: plain structs built from validated arguments, and
// one entry point per kernel (one .cu file each).
#pragma once

#include <cstdint>

#include "cuda/common/l2_ranges.hpp"
#include "klab/cuda/model_kernels.hpp"
#include "klab/cuda/quant_matrix.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::model_glue {

struct EmbeddingParams {
  float* out = nullptr;
  std::int64_t out_stride = 0;  // elements between output rows
  const std::int32_t* ids = nullptr;
  std::int64_t tokens = 0;
  std::int64_t rows = 0;                 // table rows (vocabulary)
  std::int64_t cols = 0;                 // H
  QuantPlainView quant;                  // codes == nullptr: dense table
  const std::uint16_t* dense = nullptr;  // f16 bits [rows, cols]
};

struct RmsNormToHalfParams {
  std::uint16_t* out = nullptr;  // f16 bits
  const float* x = nullptr;
  const float* weight = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t out_stride = 0;
  std::int64_t x_stride = 0;
  float eps = 0.0f;
  bool pdl = false;
};

struct AddBiasParams {
  std::uint16_t* y = nullptr;  // f16 bits
  const float* bias = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t y_stride = 0;
};

struct L2PrefetchParams {
  L2Ranges ranges;
  bool pdl = false;
};

void launch_embedding_rows(const EmbeddingParams& p, cudaStream_t stream);
void launch_rmsnorm_to_half(const RmsNormToHalfParams& p, cudaStream_t stream);
void launch_add_bias(const AddBiasParams& p, cudaStream_t stream);
void launch_l2_prefetch(const L2PrefetchParams& p, cudaStream_t stream);

}  // namespace klab::cuda::model_glue
