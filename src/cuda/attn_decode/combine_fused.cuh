// The combine of split_kv_mma_fused, run inside the split kernel (decode_mma.cuh with kFused) by
// the last CTA to finish a (sequence, KV head, head tile): no second launch, no wait for the
// whole split grid to drain, no second prologue.
//
// Arrival: every CTA writes its partial rows (normalised o, log2-sum-exp), fences, and one
// thread adds 1 to the tile's counter in the workspace; the CTA that sees count - 1 is the last,
// fences again and merges from L2 (ld.global.cg: never a stale L1 line), then sets the counter
// back to 0 so the next call, or the next replay of a captured graph, starts from zero.
//
// Merge: thread = (head row, 16-byte column chunk of o, slice of the splits). Each thread keeps
// a running max / weight sum / weighted sum over its splits, kBatch partial rows (and their
// log-sum-exps) loaded before any is used; slices meet in shared memory. With G = 4 and D = 128
// the 4 warps take one head each and a batch of 16 covers 16 splits per L2 round trip.
#pragma once

#include <cstdint>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/smem_tiles.cuh"

namespace klab::cuda::decode {

// True in every thread of the block for the last CTA of its (sequence, head tile) to arrive.
// Call after this CTA's partial rows are written, from all threads.
__device__ __forceinline__ bool arrive_last(unsigned* counter, int count) {
  __shared__ bool last;
  __threadfence();  // this thread's partial rows are visible GPU-wide before the arrival
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(counter, 1u) == static_cast<unsigned>(count - 1);
  __syncthreads();
  if (last) __threadfence();  // the other CTAs' rows are read after their arrivals
  return last;
}

// out[b, h0 .. h0 + n_heads) from the `count` partial rows of each head. `scratch`: shared
// memory for (512 / D) * (D + 2) floats. Every thread of the block calls it.
template <class T, int D, int kThreads>
__device__ __forceinline__ void combine_partials(const DecodeParams& p, int b, int h0, int n_heads,
                                                 int count, float* scratch) {
  constexpr int kPer = 4;                // floats per thread: one 16-byte load per partial row
  constexpr int kRowThreads = D / kPer;  // threads per head row
  constexpr int kRows = kThreads / kRowThreads;  // head rows x slices per pass
  constexpr int kBatch = 16;
  static_assert(kThreads % kRowThreads == 0);
  const int tid = threadIdx.x;
  const int c = tid % kRowThreads, slot = tid / kRowThreads;
  const int heads = n_heads < kRows ? n_heads : kRows;  // head rows per pass
  const int slices = kRows / heads;
  const int slice = slot / heads;
  float* s_acc = scratch;              // [kRows][D]
  float* s_max = scratch + kRows * D;  // [kRows]
  float* s_sum = s_max + kRows;        // [kRows]

  for (int pass = 0; pass < n_heads; pass += heads) {
    const int hh = pass + slot % heads;
    const bool active = slice < slices && hh < n_heads;
    float mx = -INFINITY, sum = 0.0f, acc[kPer] = {};
    if (active) {
      const std::int64_t part0 = (std::int64_t{b} * p.num_q_heads + h0 + hh) * p.max_splits;
      const float* lse = p.part_lse + part0;
      const float* po = p.part_o + part0 * D + c * kPer;
      for (int j0 = slice; j0 < count; j0 += kBatch * slices) {
        float l[kBatch];
        float4 o[kBatch];
#pragma unroll
        for (int j = 0; j < kBatch; ++j) {
          const int s = j0 + j * slices;
          l[j] = -INFINITY;
          o[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
          if (s < count) {
            l[j] = __ldcg(lse + s);
            o[j] = __ldcg(reinterpret_cast<const float4*>(po + std::int64_t{s} * D));
          }
        }
        float bmax = mx;
#pragma unroll
        for (int j = 0; j < kBatch; ++j) bmax = fmaxf(bmax, l[j]);
        const float base = bmax == -INFINITY ? 0.0f : bmax;
        const float rescale = exp2f(mx - base);  // mx == -inf: 0, and acc, sum are 0
        sum *= rescale;
#pragma unroll
        for (int e = 0; e < kPer; ++e) acc[e] *= rescale;
#pragma unroll
        for (int j = 0; j < kBatch; ++j) {
          const float w = exp2f(l[j] - base);  // -inf (no split / no keys): 0
          sum += w;
          acc[0] = fmaf(w, o[j].x, acc[0]);
          acc[1] = fmaf(w, o[j].y, acc[1]);
          acc[2] = fmaf(w, o[j].z, acc[2]);
          acc[3] = fmaf(w, o[j].w, acc[3]);
        }
        mx = bmax;
      }
      *reinterpret_cast<float4*>(s_acc + slot * D + c * kPer) =
          make_float4(acc[0], acc[1], acc[2], acc[3]);
      if (c == 0) {
        s_max[slot] = mx;
        s_sum[slot] = sum;
      }
    }
    __syncthreads();
    if (active && slice == 0) {
      float m = -INFINITY;
      for (int k = 0; k < slices; ++k) m = fmaxf(m, s_max[k * heads + slot]);
      const float base = m == -INFINITY ? 0.0f : m;
      float total = 0.0f, out[kPer] = {};
      for (int k = 0; k < slices; ++k) {
        const int from = k * heads + slot;
        const float w = exp2f(s_max[from] - base);
        total = fmaf(w, s_sum[from], total);
#pragma unroll
        for (int e = 0; e < kPer; ++e) out[e] = fmaf(w, s_acc[from * D + c * kPer + e], out[e]);
      }
      const float inv = total > 0.0f ? 1.0f / total : 0.0f;
      T* dst = static_cast<T*>(p.out) + b * p.out_stride_b + (h0 + hh) * p.out_stride_h + c * kPer;
      *reinterpret_cast<uint2*>(dst) =
          make_uint2(pack2<T>(out[0] * inv, out[1] * inv), pack2<T>(out[2] * inv, out[3] * inv));
    }
    __syncthreads();  // scratch is reused by the next pass
  }
}

}  // namespace klab::cuda::decode
