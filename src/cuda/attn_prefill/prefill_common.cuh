// Device-side pieces shared by the prefill variants: the K/V source of a launch and the
// per-(sequence, query tile) geometry every variant computes the same way.
#pragma once

#include <cstdint>

#include "cuda/attn_prefill/prefill_params.hpp"
#include "cuda/common/attn_kv.cuh"

namespace klab::cuda::prefill {

constexpr float kLog2e = 1.4426950408889634f;

// Calls f(source) with the launch's PackedKv or CachedKv.
template <class F>
void with_source(const PrefillParams& p, F&& f) {
  if (p.cached) {
    f(CachedKv{p.cache, p.kv_lens});
  } else {
    PackedKv s;
    s.k = p.k;
    s.v = p.v;
    s.cu_k = p.cu_k;
    s.total_rows = p.k_rows;
    s.row_stride = p.k_row_stride;
    s.head_stride = p.k_head_stride;
    f(s);
  }
}

// The query rows of sequence b and where its keys stand: query i (0-based within the sequence)
// sits at key position prefix + i, so causal query i sees keys [0, prefix + i].
struct SeqRows {
  int q_begin = 0;  // first packed query row
  int q_len = 0;
  int k_len = 0;
  int prefix = 0;  // k_len - q_len
  __device__ __forceinline__ int visible(int i, bool causal) const {
    const int v = causal ? (prefix + i + 1 < k_len ? prefix + i + 1 : k_len) : k_len;
    return v > 0 ? v : 0;
  }
};

__device__ __forceinline__ SeqRows seq_rows(const PrefillParams& p, int b, int k_len) {
  SeqRows r;
  r.q_begin = p.cu_q[b];
  r.q_len = p.cu_q[b + 1] - r.q_begin;
  r.k_len = k_len;
  r.prefix = k_len - r.q_len;
  return r;
}

}  // namespace klab::cuda::prefill
