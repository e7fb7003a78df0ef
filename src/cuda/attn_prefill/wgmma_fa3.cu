// Prefill variant `wgmma_fa3`: dtype dispatch and what it supports (kernel in wgmma_fa3.cuh).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <array>
#include <atomic>

#include "cuda/attn_prefill/wgmma_fa3.hpp"
#include "klab/error.hpp"

namespace klab::cuda::prefill {

namespace {

constexpr int kProbeMarkerWords = 4;

// Never launched. Its static shared memory tells the host which device code the loaded binary
// holds: only the sm_90a pass (where the wgmma kernels are real, not traps) declares the
// marker. A build for plain sm_90 or older archs runs on an H100 by PTX JIT or SASS and would
// trap; cudaFuncGetAttributes answers without a launch, so the check is safe during graph
// capture.
__global__ void wgmma_fa3_feature_probe(int* out) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __shared__ int marker[kProbeMarkerWords];
  marker[threadIdx.x % kProbeMarkerWords] = static_cast<int>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = marker[(threadIdx.x + 1) % kProbeMarkerWords];
#else
  (void)out;
#endif
}

bool device_runs_sm90a(int device) {
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  if (major != 9 || minor != 0) return false;  // sm_90a code runs on compute capability 9.0 only
  cudaFuncAttributes attr{};
  if (cudaFuncGetAttributes(&attr, wgmma_fa3_feature_probe) != cudaSuccess) {
    (void)cudaGetLastError();  // no image for this device: not an error of the caller's
    return false;
  }
  return attr.sharedSizeBytes >= kProbeMarkerWords * sizeof(int);
}

// Per device, computed once: 0 unknown, 1 yes, -1 no.
bool current_device_runs_sm90a() {
  static std::array<std::atomic<int>, 64> known{};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  if (device < 0 || device >= static_cast<int>(known.size())) return device_runs_sm90a(device);
  int state = known[device].load(std::memory_order_relaxed);
  if (state == 0) {
    state = device_runs_sm90a(device) ? 1 : -1;
    known[device].store(state, std::memory_order_relaxed);
  }
  return state > 0;
}

}  // namespace

bool wgmma_fa3_supports(const PrefillParams& p) {
  return vectorizable(p) && (p.head_dim == 64 || p.head_dim == 128) && current_device_runs_sm90a();
}

namespace {

void launch_packed(const PrefillParams& p, int pack_heads, bool tma, cudaStream_t stream) {
  if (p.max_q_len <= 0) return;
  if (p.dtype == DType::f16) return launch_wgmma_fa3_typed<__half>(p, pack_heads, tma, stream);
  if (p.dtype == DType::bf16)
    return launch_wgmma_fa3_typed<__nv_bfloat16>(p, pack_heads, tma, stream);
  fail("prefill_attention: dtype must be f16 or bf16");
}

}  // namespace

int wgmma_fa3_pack_heads(int group) {
  for (int heads = kFa3MaxPackHeads; heads > 1; --heads)
    if (group % heads == 0) return heads;
  return 1;
}

void launch_wgmma_fa3(const PrefillParams& p, cudaStream_t stream) {
  launch_packed(p, 1, false, stream);
}

void launch_wgmma_fa3_gqa(const PrefillParams& p, cudaStream_t stream) {
  launch_packed(p, wgmma_fa3_pack_heads(p.num_q_heads / p.num_kv_heads), false, stream);
}

void launch_wgmma_fa3_tma(const PrefillParams& p, cudaStream_t stream) {
  launch_packed(p, wgmma_fa3_pack_heads(p.num_q_heads / p.num_kv_heads), true, stream);
}

}  // namespace klab::cuda::prefill
