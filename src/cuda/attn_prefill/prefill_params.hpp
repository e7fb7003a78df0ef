// What the prefill-attention variants launch on, and their entry points (one variant per .cu
// file; mma_fa2's kernels are instantiated per dtype in mma_fa2_<dtype>.cu).
#pragma once

#include <cstdint>

#include "klab/cuda/kv_cache.hpp"
#include "klab/dtype.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::prefill {

struct PrefillParams {
  void* out = nullptr;
  const void* q = nullptr;
  std::int64_t q_stride_t = 0, q_stride_h = 0;
  std::int64_t out_stride_t = 0, out_stride_h = 0;
  const std::int32_t* cu_q = nullptr;
  int batch = 0;
  int max_q_len = 0;
  int num_q_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  float scale = 0.0f;
  bool causal = true;
  DType dtype = DType::f16;
  // Packed keys / values (cached == false).
  bool cached = false;
  const void* k = nullptr;
  const void* v = nullptr;
  const std::int32_t* cu_k = nullptr;
  std::int64_t k_rows = 0, k_row_stride = 0, k_head_stride = 0;
  // Cached keys / values (cached == true).
  KvCacheView cache;
  const std::int32_t* kv_lens = nullptr;
};

// 16-byte vectors: f16 / bf16, every pointer 16-byte aligned, every stride a multiple of 8.
bool vectorizable(const PrefillParams& p);

void launch_naive_rows(const PrefillParams& p, cudaStream_t stream);
void launch_tiled(const PrefillParams& p, cudaStream_t stream);
// Head dim 64 or 128.
bool mma_fa2_supports(const PrefillParams& p);
void launch_mma_fa2(const PrefillParams& p, cudaStream_t stream);

// 32 query rows per warp (128 per block); same support as mma_fa2.
void launch_mma_fa2_v2(const PrefillParams& p, cudaStream_t stream);

template <class T>
void launch_mma_fa2_typed(const PrefillParams& p, cudaStream_t stream);
template <class T>
void launch_mma_fa2_v2_typed(const PrefillParams& p, cudaStream_t stream);

}  // namespace klab::cuda::prefill
