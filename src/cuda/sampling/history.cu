// The penalty history on the device: per-row token counts plus a ring of the last `window`
// ids, updated by one thread per row (a token a step per row: nothing to parallelise), so an
// engine can feed the ids `sample` wrote straight back without a host round trip.
#include "cuda/sampling/sampling_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::sampling {

namespace {

// klab::Sampler::accept: push the id; past `window` entries the oldest one leaves.
__device__ void push(const HistoryParams& h, int row, std::int32_t id) {
  if (id < 0 || id >= h.vocab) return;  // inactive row or an error code
  std::int32_t* counts = h.counts + static_cast<std::int64_t>(row) * h.vocab;
  if (h.window > 0) {
    std::int32_t* ring = h.ring + static_cast<std::int64_t>(row) * h.window;
    const std::int32_t head = h.head[row];
    if (h.fill[row] == h.window)
      --counts[ring[head]];
    else
      ++h.fill[row];
    ring[head] = id;
    h.head[row] = head + 1 == h.window ? 0 : head + 1;
  }
  ++counts[id];
}

__global__ void accept_rows_kernel(HistoryParams h, const std::int32_t* ids, int rows) {
  const int row = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (row < rows) push(h, row, ids[row]);
}

__global__ void accept_sequence_kernel(HistoryParams h, int row, const std::int32_t* ids, int n) {
  for (int i = 0; i < n; ++i) push(h, row, ids[i]);
}

}  // namespace

void launch_accept_rows(const HistoryParams& h, const std::int32_t* ids, int rows,
                        cudaStream_t stream) {
  if (rows == 0) return;
  constexpr int kBlock = 128;
  accept_rows_kernel<<<static_cast<unsigned>((rows + kBlock - 1) / kBlock), kBlock, 0, stream>>>(
      h, ids, rows);
  check_launch("accept_rows_kernel");
}

void launch_accept_sequence(const HistoryParams& h, int row, const std::int32_t* ids, int n,
                            cudaStream_t stream) {
  if (n == 0) return;
  accept_sequence_kernel<<<1, 1, 0, stream>>>(h, row, ids, n);
  check_launch("accept_sequence_kernel");
}

}  // namespace klab::cuda::sampling
