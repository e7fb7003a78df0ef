// Token sampling on the GPU with the semantics of klab::Sampler (include/klab/sampler.hpp):
// penalties over a per-row history, temperature, top-k (ties to the lower id), top-p and min-p
// on the top-k candidates, and an inverse-CDF draw in ascending id order with a uniform u.
// Logits stay on the device; only the chosen ids are written (to device memory).
//
// Variants (src/cuda/sampling/, one file each, registered in registry.cpp):
//   threshold     block per row, sort-free: radix select of the top-k and top-p cuts over the
//                 whole row, min-p as an elementwise threshold, id-ordered scan for the draw.
//                 Any parameters, any vocabulary.
//   topk_sort     block per row: radix select of the top-k candidates, then the <= 1024
//                 candidates are sorted in shared memory (bitonic) for top-p, min-p and the
//                 draw. Needs min(top_k, vocab) <= 1024 (top_k <= 0 counts as vocab).
//   split_argmax  greedy only: several blocks per row each reduce a slice, the last block to
//                 finish (atomic ticket) reduces the partial maxima. No host sync.
//
// Every launch is CUDA-graph capturable: no allocation, no host synchronisation, fixed device
// addresses. The uniform draws come from a device buffer of one double per row that the host
// fills (GpuSampler::stage_uniforms, a cudaMemcpyAsync from pinned memory) before the graph
// is launched; the draws use std::mt19937_64 exactly as klab::Sampler does.
//
// Output per row: the token id, or a negative SampleStatus code when the row's logits are
// unusable (the CPU sampler throws in those cases; a kernel cannot). GpuSampler::sample_to_host
// turns the codes into a klab::Error.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "klab/registry.hpp"
#include "klab/sampler.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

enum class SampleStatus : std::int32_t {
  nan_logit = -1,    // a logit is NaN
  inf_logit = -2,    // sampling (temperature > 0) with a +inf logit
  all_neg_inf = -3,  // sampling with every candidate logit -inf
};
// "row 3: a logit is NaN" style text for a negative output code; empty for a valid id.
std::string describe_sample_status(std::int32_t code);

// Device scratch of one sampling call, laid out for up to `rows` rows of `vocab` logits.
// `tickets` must be zero before the first launch; the kernels leave them zero.
struct SampleWorkspace {
  float* scratch = nullptr;      // [rows, vocab]
  float* partial_max = nullptr;  // [rows, kMaxSplit]
  std::int32_t* partial_idx = nullptr;
  std::uint32_t* tickets = nullptr;  // [rows]
  std::int64_t rows = 0;
  std::int64_t vocab = 0;
};
constexpr int kSampleMaxSplit = 128;  // split_argmax: blocks per row at most

//   logits: device f32 [B, V], unit stride along V (rows may be strided).
//   out:    device i32 [B], contiguous.
//   u:      device [B] doubles in [0, 1) (read only when temperature > 0).
//   counts: device i32 [B, V] (row stride V) occurrences of each token in the penalty window,
//           or null for no penalties.
//   probs:  optional device f32 [B, V]: the final distribution (0 for dropped tokens).
struct SampleArgs {
  TensorView logits;
  TensorView out;
  const double* u = nullptr;
  const std::int32_t* counts = nullptr;
  SamplerParams params;
  SampleWorkspace workspace;
  float* probs = nullptr;
};

void validate(const SampleArgs& args);  // throws klab::Error naming the argument
const registry::OpRegistry<SampleArgs>& sample_registry();
void sample(const SampleArgs& args, cudaStream_t stream = nullptr,
            std::string_view variant = "auto");

// The sampler state an engine holds: per-row penalty history on the device (token counts plus
// a ring of the last repeat_last_n ids), the per-row random streams, the workspace.
//
// Row r draws from std::mt19937_64(params.seed + r) (set_seed overrides it): with the same
// seed a row sees the same u sequence as klab::Sampler, except that the GPU consumes one u per
// step even when only one token survives (the CPU sampler skips the draw then; it cannot be
// known on the host without a sync).
class GpuSampler {
 public:
  GpuSampler(std::int64_t vocab, std::int64_t max_batch, SamplerParams params);
  ~GpuSampler();
  GpuSampler(const GpuSampler&) = delete;
  GpuSampler& operator=(const GpuSampler&) = delete;
  GpuSampler(GpuSampler&&) noexcept;
  GpuSampler& operator=(GpuSampler&&) noexcept;

  // Records ids (device i32 [B], B <= max_batch) in the rows' histories; negative ids (inactive
  // rows, error codes) are skipped. Capturable: typically fed the ids `sample` just wrote.
  void accept(const TensorView& ids, cudaStream_t stream);
  // Records host tokens (e.g. the prompt) in row `row`'s history. Not capturable.
  void accept_host(std::int64_t row, std::span<const std::int32_t> ids, cudaStream_t stream);
  // Clears row's history and restarts its random stream (`reset_all` for every row).
  void reset(std::int64_t row, cudaStream_t stream);
  void reset_all(cudaStream_t stream);
  void set_seed(std::int64_t row, std::uint64_t seed);

  // Draws one u per row for rows [0, B) on the host and copies them to device_uniforms()
  // (asynchronously, from pinned memory). Call before `sample` / before replaying a graph that
  // contains it; a greedy sampler needs no draws. The staging buffer is reused: a later call
  // must not overwrite it before the previous copy ran, so synchronise once per step (reading
  // the ids back does).
  void stage_uniforms(std::int64_t batch, cudaStream_t stream);

  // Samples rows [0, B) of logits (device f32 [B, vocab]) into out (device i32 [B]). Uses the
  // u staged last. Capturable.
  void sample(const TensorView& logits, const TensorView& out, cudaStream_t stream,
              std::string_view variant = "auto", float* probs = nullptr) const;
  // The arguments `sample` launches with (for tests and benchmarks).
  SampleArgs args(const TensorView& logits, const TensorView& out, float* probs = nullptr) const;

  // Convenience for the non-graph path: stage_uniforms, sample, accept, copy the ids back,
  // synchronise; throws klab::Error for a row whose logits are unusable.
  std::vector<std::int32_t> next(const TensorView& logits, cudaStream_t stream);

  const SamplerParams& params() const;
  std::int64_t vocab() const;
  std::int64_t max_batch() const;
  bool has_penalties() const;
  const double* device_uniforms() const;
  const std::int32_t* device_counts() const;  // null without penalties

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace klab::cuda
