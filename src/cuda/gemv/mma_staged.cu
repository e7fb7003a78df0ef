// gemv_q / mma_staged: the tensor-core GEMV with x and the tile's scales staged in shared
// memory once per block and only the codes streamed (per-warp cp.async ring); one 16-row tile
// (gate + up for SwiGLU) per block. Kernel and rationale: mma_staged.cuh.
#include "cuda/common/device_sm_count.hpp"
#include "cuda/gemv/mma_staged.cuh"

namespace klab::cuda::gemv_impl {

namespace staged {

namespace {

struct SmLimits {
  int sms = 0;
  std::size_t smem = 0, reserved = 0;  // shared memory an SM, reserved a block
};

const SmLimits& sm_limits() {  // one device per process (as the engine)
  static const SmLimits l = [] {
    int device = 0, per_sm = 0, per_block = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device),
          "cudaDeviceGetAttribute(maxSharedMemoryPerMultiprocessor)");
    check(cudaDeviceGetAttribute(&per_block, cudaDevAttrReservedSharedMemoryPerBlock, device),
          "cudaDeviceGetAttribute(reservedSharedMemoryPerBlock)");
    return SmLimits{device_sm_count(), static_cast<std::size_t>(per_sm),
                    static_cast<std::size_t>(per_block)};
  }();
  return l;
}

}  // namespace

int blocks_per_sm(int warps, std::size_t smem, std::size_t static_smem) {
  const SmLimits& l = sm_limits();
  const auto by_smem = static_cast<int>(l.smem / (smem + static_smem + l.reserved));
  return std::min(by_smem, min_blocks(warps));
}

std::size_t spread_smem(std::int64_t blocks, std::size_t smem, const KernelSmem& kernel) {
  const std::size_t static_smem = kernel.static_bytes;
  const SmLimits& l = sm_limits();
  const std::size_t sm_smem = l.smem, reserved = l.reserved;
  const std::int64_t cap = (blocks + l.sms - 1) / l.sms;
  // cap + 1 blocks must not fit: (cap + 1) * (dynamic + static + reserved) > sm_smem.
  const std::size_t share = sm_smem / static_cast<std::size_t>(cap + 1) + 1;
  if (share <= static_smem + reserved) return smem;
  const std::size_t dynamic = share - static_smem - reserved;
  return dynamic > kernel.dynamic_limit ? smem : std::max(smem, dynamic);
}

}  // namespace staged

bool mma_staged_fits(const GemvParams& p) {
  return staged::fits(p);
}

void launch_mma_staged(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { staged::launch_act<decltype(t)>(p, stream, false); });
}

void launch_mma_staged_pdl(const GemvParams& p, cudaStream_t stream) {
  dispatch_act(p.act, [&](auto t) { staged::launch_act<decltype(t)>(p, stream, true); });
}

}  // namespace klab::cuda::gemv_impl
