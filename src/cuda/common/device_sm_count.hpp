// The current device's SM count, queried once per process: launch rules read it on every call,
// and the engine and `klab bench` use one device per process. Header-only: the function-local
// static of an inline function is one object across translation units (a query that throws, as
// without a device, is retried on the next call).
#pragma once

#include <cuda_runtime_api.h>

#include "klab/cuda/check.hpp"

namespace klab::cuda {

inline int device_sm_count() {
  static const int sms = [] {
    int device = 0, count = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device),
          "cudaDeviceGetAttribute(multiProcessorCount)");
    return count;
  }();
  return sms;
}

}  // namespace klab::cuda
