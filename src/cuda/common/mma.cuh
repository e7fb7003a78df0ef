// Warp-level tensor-core tiles (mma.sync, sm_80+): m16n8k16 with f16 or bf16 operands and
// f32 accumulators.
//
// Fragment ownership, g = lane / 4, t = lane % 4 (each register holds two consecutive k):
//   A (16 x 16, row-major): a[0] = A[g][2t, 2t+1]   a[1] = A[g+8][2t, 2t+1]
//                           a[2] = A[g][2t+8, 2t+9] a[3] = A[g+8][2t+8, 2t+9]
//   B (16 x 8, "col"):      b[0] = B[2t, 2t+1][g]   b[1] = B[2t+8, 2t+9][g]
//   C, D (16 x 8, f32):     d[0], d[1] = D[g][2t, 2t+1]   d[2], d[3] = D[g+8][2t, 2t+1]
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace klab::cuda {

template <class T>
__device__ __forceinline__ void mma_m16n8k16(float (&d)[4], const std::uint32_t (&a)[4],
                                             const std::uint32_t (&b)[2]);

template <>
__device__ __forceinline__ void mma_m16n8k16<__half>(float (&d)[4], const std::uint32_t (&a)[4],
                                                     const std::uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <>
__device__ __forceinline__ void mma_m16n8k16<__nv_bfloat16>(float (&d)[4],
                                                            const std::uint32_t (&a)[4],
                                                            const std::uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// ldmatrix from a 32-bit shared-memory address (see smem_tiles.cuh for the layouts). With
// swizzled_lane_offset below, a kernel forms every fragment address as
// `tile + (lane_offset ^ constant) + constant`: two integer ops at the use, where per-k-step
// precomputed pointers would hold dozens of registers across the key loop.
__device__ __forceinline__ void ldmatrix_x4_at(std::uint32_t (&r)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans_at(std::uint32_t (&r)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// Byte offset of chunk c of row r in a tile whose rows hold `Chunks` 16-byte chunks, swizzled
// like swizzled_chunk (smem_tiles.cuh). The swizzle only touches the chunk bits of the offset, so
// for k < Chunks and any m:
//   swizzled_offset(r + 8 m, c ^ k) == (swizzled_offset(r, c) ^ (k << 4)) + 8 m * Chunks * 16
// (k a compile-time step: one LOP3; the row step an immediate of the ldmatrix).
template <int Chunks>
__device__ __forceinline__ std::uint32_t swizzled_offset(int r, int c) {
  static_assert(Chunks >= 8 && (Chunks & (Chunks - 1)) == 0, "rows of 8, 16, 32... chunks");
  return static_cast<std::uint32_t>(r * Chunks + (c ^ (r & 7))) * 16u;
}

// a ^ b computed where it is used. Fragment and copy addresses are `base + (lane ^ step)` for
// a few compile-time steps; plain C++ lets the compiler hoist every (lane ^ step) out of the
// key loop and keep them all live (spilling at 255 registers), the volatile asm keeps it one
// LOP3 at the use.
__device__ __forceinline__ std::uint32_t xor_at_use(std::uint32_t a, std::uint32_t b) {
  std::uint32_t r;
  asm volatile("xor.b32 %0, %1, %2;\n" : "=r"(r) : "r"(a), "r"(b));
  return r;
}

// cp.async of 16 bytes to a 32-bit shared-memory address (zero-fill when !valid), for copies
// addressed like the fragments above.
__device__ __forceinline__ void cp_async16_at(std::uint32_t smem, const void* gmem, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem), "l"(gmem),
               "r"(src_bytes)
               : "memory");
}

// Shared-memory loads at a 32-bit address (volatile: they must stay after the cp.async wait
// that makes the data visible).
__device__ __forceinline__ uint4 lds128_at(std::uint32_t a) {
  uint4 v;
  asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "r"(a));
  return v;
}

__device__ __forceinline__ std::uint32_t lds32_at(std::uint32_t a) {
  std::uint32_t v;
  asm volatile("ld.shared.u32 %0, [%1];\n" : "=r"(v) : "r"(a));
  return v;
}

}  // namespace klab::cuda
