// What every RoPE variant launches on, and each variant's entry points. One variant per .cu.
#pragma once

#include <cstdint>

#include "klab/dtype.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::rope_kernels {

struct RopeParams {
  void* x = nullptr;  // [tokens, heads, head_dim], rotated in place
  const std::int32_t* positions = nullptr;
  const float* inv_freq = nullptr;  // null: theta^(-2i/rot_dim)
  std::int64_t tokens = 0;
  int heads = 0;
  int head_dim = 0;
  int rot_dim = 0;
  std::int64_t token_stride = 0;  // elements
  float theta = 0.0f;
  bool half_split = true;
  DType dtype = DType::f16;
};

// 16-byte vectors tile the rotated dims of each half (half_split) or of the head
// (interleaved), and x and the token stride are vector aligned.
bool vectorizable(const RopeParams& p);

void launch_naive(const RopeParams& p, cudaStream_t stream);
void launch_vec16(const RopeParams& p, cudaStream_t stream);
void launch_cached_sincos(const RopeParams& p, cudaStream_t stream);

}  // namespace klab::cuda::rope_kernels
