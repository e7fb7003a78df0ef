// The PTX the streaming probes (stream_floor.cu, decode_stream_pattern.cu) share: PDL, cp.async
// rings, and TMA 1-D bulk copies into mbarrier stages. Header-only, as graph_timing.cuh, so each
// probe still builds with one nvcc command (sm_90a).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace probe {

__device__ __forceinline__ void pdl_wait() {
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
}
__device__ __forceinline__ void pdl_trigger() {
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
}
__device__ __forceinline__ std::uint32_t smem_u32(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// cp.async rings: 16-byte copies that bypass L1, committed and waited for in groups.
__device__ __forceinline__ void cp_async16(std::uint32_t dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src) : "memory");
}
__device__ __forceinline__ void cp_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// TMA 1-D copies: one thread arms a stage's mbarrier with the bytes to expect and issues the
// copy; every thread waits on the stage's phase.
__device__ __forceinline__ void mbar_init(std::uint32_t bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect(std::uint32_t bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_wait(std::uint32_t bar, unsigned parity) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@!p bra WAIT_%=;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void bulk_copy(std::uint32_t dst, const void* src, unsigned bytes,
                                          std::uint32_t bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::
          "r"(dst),
      "l"(src), "r"(bytes), "r"(bar)
      : "memory");
}

// The XOR of this thread's 16-byte words of a staged buffer (thread t: words t, t + blockDim.x,
// ...): the probes read every staged byte so that nothing is elided.
__device__ __forceinline__ unsigned xor_words(const std::uint8_t* p, int bytes) {
  unsigned acc = 0;
  for (int i = static_cast<int>(threadIdx.x) * 16; i < bytes;
       i += static_cast<int>(blockDim.x) * 16) {
    const uint4 v = *reinterpret_cast<const uint4*>(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  return acc;
}

}  // namespace probe
