// Host side of wgmma_fa3_tma's loads: the K/V tensor maps (cuTensorMapEncodeTiled, reached
// through the runtime's driver entry point so nothing links libcuda directly).
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/attn_prefill/wgmma_fa3_tma.hpp"

namespace klab::cuda::prefill {

namespace {

PFN_cuTensorMapEncodeTiled_v12000 encode_fn() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult status{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault,
                                         &status) != cudaSuccess ||
        status != cudaDriverEntryPointSuccess) {
      (void)cudaGetLastError();
      ptr = nullptr;
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(ptr);
  }();
  return fn;
}

// The TMA limits: every dimension 1..2^32, strides multiples of 16 bytes below 2^40.
bool fits(const cuuint64_t (&dims)[4], const cuuint64_t (&strides)[3]) {
  for (cuuint64_t d : dims)
    if (d == 0 || d > (cuuint64_t{1} << 32)) return false;
  for (cuuint64_t s : strides)
    if (s == 0 || s % 16 != 0 || s >= (cuuint64_t{1} << 40)) return false;
  return true;
}

bool encode(PFN_cuTensorMapEncodeTiled_v12000 fn, CUtensorMap& map, const void* base,
            CUtensorMapDataType type, const cuuint64_t (&dims)[4], const cuuint64_t (&strides)[3],
            int box_rows) {
  const cuuint32_t box[4] = {64, 1, static_cast<cuuint32_t>(box_rows), 1};
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  return fn(&map, type, 4, const_cast<void*>(base), dims, strides, box, element_strides,
            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
            CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

}  // namespace

bool encode_fa3_kv_maps(const PrefillParams& p, int box_rows, Fa3KvMaps& maps) {
  if (p.cached && p.cache.paged()) return false;
  if (p.dtype != DType::f16 && p.dtype != DType::bf16) return false;
  const PFN_cuTensorMapEncodeTiled_v12000 fn = encode_fn();
  if (fn == nullptr) return false;
  constexpr cuuint64_t kElem = 2;
  const CUtensorMapDataType type =
      p.dtype == DType::bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  const auto u = [](std::int64_t x) { return x > 0 ? static_cast<cuuint64_t>(x) : cuuint64_t{0}; };
  cuuint64_t dims[4], strides[3];
  const void *k = nullptr, *v = nullptr;
  if (p.cached) {
    dims[0] = u(p.head_dim), dims[1] = u(p.num_kv_heads), dims[2] = u(p.cache.page_size);
    dims[3] = u(p.cache.num_blocks);
    strides[0] = u(p.cache.head_stride) * kElem, strides[1] = u(p.cache.row_stride) * kElem;
    strides[2] = u(p.cache.block_stride) * kElem;
    k = p.cache.k, v = p.cache.v;
  } else {
    dims[0] = u(p.head_dim), dims[1] = u(p.num_kv_heads), dims[2] = u(p.k_rows), dims[3] = 1;
    strides[0] = u(p.k_head_stride) * kElem, strides[1] = u(p.k_row_stride) * kElem;
    strides[2] = strides[1] * (dims[2] > 0 ? dims[2] : 1);  // one block: never stepped
    k = p.k, v = p.v;
  }
  if (p.num_kv_heads == 1 && strides[0] == 0) strides[0] = u(p.head_dim) * kElem;
  return fits(dims, strides) && encode(fn, maps.k, k, type, dims, strides, box_rows) &&
         encode(fn, maps.v, v, type, dims, strides, box_rows);
}

}  // namespace klab::cuda::prefill
