// Shared-memory tile movement for tensor-core kernels (sm_80+ instructions that sm_90 still
// runs): cp.async 16- (and 4-) byte global -> shared copies with zero-fill, ldmatrix loads of 8x8
// b16 tiles into mma fragments (layouts in mma.cuh), the XOR swizzle that makes those loads
// bank-conflict free, and packing of f32 pairs into f16/bf16 operands.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace klab::cuda {

__device__ __forceinline__ std::uint32_t smem_addr(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared; when `valid` is false nothing is read and the 16 bytes are zeroed.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem),
               "r"(src_bytes)
               : "memory");
}
// 4 bytes global -> shared (through L1); nothing is read and zero is stored when `valid` is false.
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem, bool valid) {
  const int src_bytes = valid ? 4 : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem),
               "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most `Pending` of this thread's committed groups are still in flight.
template <int Pending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
}

// Four 8x8 b16 matrices; lanes 8i..8i+7 give the row addresses of matrix i, register i gets
// matrix i in fragment layout (lane holds row lane / 4, columns 2 (lane % 4) and +1).
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* smem_row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(smem_row)));
}
// Same, each matrix transposed: lane holds rows 2 (lane % 4) and +1 of column lane / 4.
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* smem_row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(smem_row)));
}

// Two floats rounded into one b32 holding a T pair (lo in the low half): an mma operand.
template <class T>
__device__ __forceinline__ std::uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ std::uint32_t pack2<__half>(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const std::uint32_t*>(&h);
}
template <>
__device__ __forceinline__ std::uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const std::uint32_t*>(&h);
}

// Index (in 16-byte chunks) of chunk c of row r in a tile whose rows hold `Chunks` chunks,
// XOR-swizzled so that ldmatrix's 8 row addresses at one logical column land in 8 different
// 16-byte bank groups (Chunks >= 8, a power of two).
template <int Chunks>
__device__ __forceinline__ int swizzled_chunk(int r, int c) {
  static_assert(Chunks >= 8 && (Chunks & (Chunks - 1)) == 0, "rows of 8, 16, 32... chunks");
  return r * Chunks + (c ^ (r & 7));
}

}  // namespace klab::cuda
