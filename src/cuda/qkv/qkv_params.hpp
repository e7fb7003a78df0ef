// What every QKV variant launches on (the three ops in one plain struct), and each variant's
// entry points. One variant per .cu file; each instantiates all three ops.
#pragma once

#include <cstdint>

#include "klab/cuda/kv_cache.hpp"
#include "klab/dtype.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::qkv {

enum class QkvMode : std::uint8_t {
  split,       // q, k, v tensors
  split_rope,  // q, k rotated; q, k, v tensors
  rope_cache,  // q, k rotated; q tensor, k and v into the cache
};

struct QkvParams {
  QkvMode mode = QkvMode::split;
  const void* qkv = nullptr;
  std::int64_t qkv_stride = 0;  // elements between tokens
  void* q = nullptr;
  std::int64_t q_stride = 0;
  void* k = nullptr;  // split modes
  std::int64_t k_stride = 0;
  void* v = nullptr;
  std::int64_t v_stride = 0;
  KvCacheView cache;                        // rope_cache
  const std::int32_t* seq_ids = nullptr;    // rope_cache
  const std::int32_t* positions = nullptr;  // rope modes
  const float* inv_freq = nullptr;          // null: theta^(-2i/rot_dim)
  float theta = 0.0f;
  int rot_dim = 0;
  bool half_split = true;
  std::int64_t tokens = 0;
  int hq = 0;
  int hkv = 0;
  int head_dim = 0;
  DType dtype = DType::f16;
  bool pdl = false;  // rope_cache through token_split: launched with PDL
};

// Every address the 16-byte variants touch is vector aligned and the rotated dims tile into
// vectors.
bool vectorizable(const QkvParams& p);

// grid.y limit of a launch.
constexpr std::int64_t kMaxGridY = 65535;
// token_split's row of blocks per token fits in grid.y (and the params are vectorizable).
bool token_split_fits(const QkvParams& p);

void launch_naive(const QkvParams& p, cudaStream_t stream);
void launch_vec16(const QkvParams& p, cudaStream_t stream);
void launch_token_per_block(const QkvParams& p, cudaStream_t stream);
void launch_token_split(const QkvParams& p, cudaStream_t stream);

}  // namespace klab::cuda::qkv
