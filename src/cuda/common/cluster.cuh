// Thread-block clusters (sm_90): the cluster barrier and loads from another CTA's shared memory
// (distributed shared memory), as the few PTX instructions a kernel needs, without going
// through cooperative_groups' generic pointers (a generic load to DSMEM costs an address-space
// check per access; these address shared::cluster directly).
//
// A kernel launched with a cluster dimension of (n, 1, 1) and gridDim.x == n has CTA rank
// blockIdx.x in its cluster. Reading another CTA's shared memory is only valid after a cluster
// barrier that the other CTA reached after writing it, and before a second barrier that the
// other CTA waits on before it exits (its shared memory is released when it exits). Writing
// it is valid once a barrier phase the other CTA arrived on has completed (it has started) and
// before the other CTA could exit (a barrier it waits on after this CTA's release arrive).
//
// Built for an architecture below sm_90 the functions compile to nothing: host code must not
// launch such kernels with clusters there (their launches fail, and callers check).
#pragma once

#include <cstdint>

namespace klab::cuda {

// Every thread of every CTA of the cluster arrives; shared-memory writes before it are visible
// to the cluster after cluster_wait. `.aligned`: all threads of a warp call it together.
__device__ __forceinline__ void cluster_arrive() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("barrier.cluster.arrive.release.aligned;\n" ::: "memory");
#endif
}

// An arrive that orders no memory operation: for a barrier that only keeps shared memory alive
// (no CTA exits while another reads it), where every remote load before it has returned its
// value (mma_wide_split's last barrier), or one that only says the CTA has started (the cluster
// decode's first phase, waited before its remote stores). A release arrive also waits for the
// thread's global stores to drain (ncu: the decode attention's old last barrier stalled on that
// MEMBAR after its output stores).
__device__ __forceinline__ void cluster_arrive_relaxed() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void cluster_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void cluster_sync() {
  cluster_arrive();
  cluster_wait();
}

// This CTA's rank in its cluster, and the cluster's CTA count (0 and 1 without clusters).
__device__ __forceinline__ unsigned cluster_rank() {
  unsigned r = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
#endif
  return r;
}
__device__ __forceinline__ unsigned cluster_size() {
  unsigned n = 1;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mov.u32 %0, %%cluster_nctarank;\n" : "=r"(n));
#endif
  return n;
}

// The shared::cluster address of the same offset as `cta_addr` (a shared::cta address of this
// CTA) in the shared memory of the cluster's CTA `rank`.
__device__ __forceinline__ std::uint32_t cluster_map(std::uint32_t cta_addr, int rank) {
  std::uint32_t out = cta_addr;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(out) : "r"(cta_addr), "r"(rank));
#else
  (void)rank;
#endif
  return out;
}

__device__ __forceinline__ float ld_cluster_f32(std::uint32_t addr) {
  float v = 0.0f;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("ld.shared::cluster.f32 %0, [%1];\n" : "=f"(v) : "r"(addr) : "memory");
#else
  (void)addr;
#endif
  return v;
}

__device__ __forceinline__ float4 ld_cluster_f32x4(std::uint32_t addr) {
  float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n"
               : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
               : "r"(addr)
               : "memory");
#else
  (void)addr;
#endif
  return v;
}

// Stores to another CTA's shared memory (a shared::cluster address from cluster_map). Valid once
// that CTA has started (a cluster barrier phase it arrived on has completed); visible to it after
// a barrier this CTA arrives on with release and it waits on with acquire.
__device__ __forceinline__ void st_cluster_f32x4(std::uint32_t addr, float4 v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("st.shared::cluster.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "f"(v.x),
               "f"(v.y), "f"(v.z), "f"(v.w)
               : "memory");
#else
  (void)addr;
  (void)v;
#endif
}

__device__ __forceinline__ void st_cluster_f32x2(std::uint32_t addr, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("st.shared::cluster.v2.f32 [%0], {%1, %2};\n" ::"r"(addr), "f"(a), "f"(b)
               : "memory");
#else
  (void)addr;
  (void)a;
  (void)b;
#endif
}

}  // namespace klab::cuda
