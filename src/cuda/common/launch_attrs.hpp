// The cudaLaunchKernelEx attributes our kernels combine: programmatic stream serialization
// (PDL, attn_decode/pdl.cuh) and a thread-block cluster shape (cluster.cuh). The config points
// into this object: keep it alive until the launch.
#pragma once

#include <cuda_runtime.h>

namespace klab::cuda {

class LaunchAttrs {
 public:
  LaunchAttrs& pdl(bool on) {
    if (on) {
      cudaLaunchAttribute& a = next();
      a.id = cudaLaunchAttributeProgrammaticStreamSerialization;
      a.val.programmaticStreamSerializationAllowed = 1;
    }
    return *this;
  }
  LaunchAttrs& cluster(unsigned x, unsigned y = 1, unsigned z = 1) {
    cudaLaunchAttribute& a = next();
    a.id = cudaLaunchAttributeClusterDimension;
    a.val.clusterDim.x = x;
    a.val.clusterDim.y = y;
    a.val.clusterDim.z = z;
    return *this;
  }
  void apply(cudaLaunchConfig_t& cfg) {
    cfg.attrs = attrs_;
    cfg.numAttrs = count_;
  }

 private:
  cudaLaunchAttribute& next() { return attrs_[count_++]; }  // at most one of each kind
  cudaLaunchAttribute attrs_[2] = {};
  unsigned count_ = 0;
};

}  // namespace klab::cuda
