// Programmatic dependent launch (sm_90): a kernel launched with the programmatic-serialization
// attribute may start while the kernel before it in the stream is still running, so its launch
// latency and block scheduling overlap the predecessor's tail. Kernels built for it call
//   pdl_launch_dependents()  first: lets the NEXT kernel in the stream be scheduled early;
//   pdl_wait()               before touching any global memory: blocks until every
//                            predecessor grid has completed and its writes are visible.
// Launched without the attribute (or on a pre-sm_90 build) both are no-ops, so one kernel
// serves the plain and the PDL variants. Stream capture turns the attribute into programmatic
// graph edges, so the run stays graph-capturable.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "klab/cuda/check.hpp"

namespace klab::cuda::decode {

__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Launches kernel<<<grid, block, smem, stream>>>(args...), with programmatic stream
// serialization when `pdl` is set; errors (launch configuration included) throw naming `what`.
template <class... Params, class... Args>
void launch_maybe_pdl(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem,
                      cudaStream_t stream, bool pdl, const char* what, Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr = {};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = &attr;
  cfg.numAttrs = pdl ? 1 : 0;
  check(cudaLaunchKernelEx(&cfg, kernel, static_cast<Args&&>(args)...), what);
  check_launch(what);
}

}  // namespace klab::cuda::decode
