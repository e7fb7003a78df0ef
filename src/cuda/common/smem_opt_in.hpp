// A kernel's opt-in to more than 48 KiB of dynamic shared memory, made once per kernel at the
// most it may ask for. The runtime refuses an attribute above the block's opt-in limit (227 KiB
// on sm_90) less the kernel's static bytes (s26 c2: 16 static bytes more failed every 8-bit
// 16-warp mma_staged kernel), so the limit is read from the kernel, not assumed.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "klab/cuda/check.hpp"
#include "klab/error.hpp"

namespace klab::cuda {

struct KernelSmem {
  std::size_t static_bytes = 0;   // the kernel's static shared memory
  std::size_t dynamic_limit = 0;  // the most dynamic shared memory a launch may ask for
};

// Sets `kernel`'s max dynamic shared memory to min(cap, opt-in limit - static bytes).
inline KernelSmem opt_in_dynamic_smem(const void* kernel, std::size_t cap, std::string_view name) {
  const std::string who(name);
  int device = 0, optin = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)");
  cudaFuncAttributes attr{};
  check(cudaFuncGetAttributes(&attr, kernel), ("cudaFuncGetAttributes(" + who + ")").c_str());
  const auto room = static_cast<std::size_t>(optin);
  const KernelSmem s{attr.sharedSizeBytes,
                     std::min(cap, room > attr.sharedSizeBytes ? room - attr.sharedSizeBytes : 0)};
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(s.dynamic_limit)),
        ("cudaFuncSetAttribute(" + who + ")").c_str());
  return s;
}

// Once per kernel (the first call's cap and name stand).
template <auto* Kernel>
const KernelSmem& kernel_smem(std::size_t cap, std::string_view name) {
  static const KernelSmem k = opt_in_dynamic_smem(reinterpret_cast<const void*>(Kernel), cap, name);
  return k;
}

// A one-line klab::Error when a launch asks for more dynamic shared memory than the kernel may.
inline void check_dynamic_smem(std::size_t smem, const KernelSmem& k, std::string_view name) {
  if (smem > k.dynamic_limit)
    fail(std::string(name) + ": the launch needs " + std::to_string(smem) +
         " bytes of dynamic shared memory, more than the kernel's limit of " +
         std::to_string(k.dynamic_limit));
}

}  // namespace klab::cuda
