// What every sampling variant launches on (one plain struct), each variant's entry point, and
// the history (penalty window) kernels.
#pragma once

#include <cstdint>

using cudaStream_t = struct CUstream_st*;

namespace klab::cuda::sampling {

struct SampleParams {
  const float* logits = nullptr;
  std::int64_t logits_stride = 0;  // elements between rows
  std::int32_t* out = nullptr;
  const double* u = nullptr;
  const std::int32_t* counts = nullptr;  // [rows, vocab] or null
  float* scratch = nullptr;              // [rows, vocab]
  float* partial_max = nullptr;          // [rows, kSampleMaxSplit]
  std::int32_t* partial_idx = nullptr;
  std::uint32_t* tickets = nullptr;
  float* probs = nullptr;  // optional [rows, vocab]
  int rows = 0;
  int vocab = 0;
  float temperature = 0.0f;  // <= 0: greedy
  int top_k = 0;             // already resolved: 0 = off (or >= vocab)
  float top_p = 1.0f;        // >= 1: off
  float min_p = 0.0f;        // <= 0: off
  float repeat_penalty = 1.0f;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
};

// Candidates the sampling path works on: min(top_k, vocab), vocab when top_k is off.
constexpr int candidate_count(const SampleParams& p) {
  return p.top_k > 0 && p.top_k < p.vocab ? p.top_k : p.vocab;
}

constexpr int kSortMaxCandidates = 1024;

void launch_threshold(const SampleParams& p, cudaStream_t stream);
void launch_topk_sort(const SampleParams& p, cudaStream_t stream);
void launch_split_argmax(const SampleParams& p, cudaStream_t stream);
int split_argmax_blocks(int vocab);  // blocks per row split_argmax launches

// Penalty window of each row: counts[rows, vocab]; ring[rows, window] of the last `window`
// ids with fill[rows] entries, next write at head[rows]. window <= 0: counts only (all tokens).
struct HistoryParams {
  std::int32_t* counts = nullptr;
  std::int32_t* ring = nullptr;
  std::int32_t* fill = nullptr;
  std::int32_t* head = nullptr;
  int vocab = 0;
  int window = 0;
};

// ids[r] for rows [0, rows) (negative: skipped).
void launch_accept_rows(const HistoryParams& h, const std::int32_t* ids, int rows,
                        cudaStream_t stream);
// n ids, in order, into one row.
void launch_accept_sequence(const HistoryParams& h, int row, const std::int32_t* ids, int n,
                            cudaStream_t stream);

}  // namespace klab::cuda::sampling
