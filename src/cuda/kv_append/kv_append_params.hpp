// What the KV-append variants launch on, and their entry points (one variant per .cu file).
#pragma once

#include <cstdint>

#include "klab/cuda/kv_cache.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::kv_append_detail {

struct AppendParams {
  KvCacheView cache;
  const void* k_new = nullptr;
  const void* v_new = nullptr;
  std::int64_t k_token_stride = 0, k_head_stride = 0;  // elements
  std::int64_t v_token_stride = 0, v_head_stride = 0;
  int tokens = 0;
  const std::int32_t* seq = nullptr;
  const std::int32_t* pos = nullptr;
  int* dropped = nullptr;
};

// 16-byte chunks: D, every stride and every base pointer a multiple of 16 bytes.
bool vec16_supports(const AppendParams& p);
void launch_vec16(const AppendParams& p, cudaStream_t stream);
void launch_scalar(const AppendParams& p, cudaStream_t stream);

}  // namespace klab::cuda::kv_append_detail
