// Prefill variant `tiled`: a block of 128 threads per (32-query tile, query head). The query
// tile (f32, pre-scaled) and 32-key K/V tiles sit in shared memory; thread (row r, quarter q)
// scores keys q, q + 4, ... of each tile for row r with scalar f32 math, the 4 threads of a row
// share its online softmax through shuffles, and each accumulates a quarter of the row's
// output. Causal blocks stop at their last visible key tile.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/attn_prefill/prefill_common.cuh"
#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/vec.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::prefill {

namespace {

constexpr int kThreads = 128;
constexpr int kBM = 32;  // query rows per block
constexpr int kBN = 32;  // keys per tile

template <class T, int D>
struct TiledShape {
  static constexpr int kQStride = D + 4;   // floats; +16 bytes keeps 8 rows on 8 bank groups
  static constexpr int kKvStride = D + 8;  // elements; +16 bytes, rows stay 16-byte aligned
  static constexpr int kPStride = kBN + 1;
  static constexpr std::size_t kSmemBytes =
      sizeof(float) * (kBM * kQStride + kBM * kPStride) + sizeof(T) * 2 * kBN * kKvStride;
};

template <class T, int D, class Src>
__global__ void __launch_bounds__(kThreads) tiled_kernel(PrefillParams p, Src src) {
  using S = TiledShape<T, D>;
  constexpr int kVec = 8, kChunks = D / kVec, kQuarter = D / 4;
  extern __shared__ __align__(16) unsigned char smem[];
  float* sq = reinterpret_cast<float*>(smem);
  float* sp = sq + kBM * S::kQStride;
  T* sk = reinterpret_cast<T*>(sp + kBM * S::kPStride);
  T* sv = sk + kBN * S::kKvStride;

  const int b = blockIdx.z, h = blockIdx.y;
  const int tile = p.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  const auto seq = src.seq(b);
  const SeqRows rows = seq_rows(p, b, seq.len);
  const int m0 = tile * kBM;
  if (m0 >= rows.q_len) return;
  const int hkv = h / (p.num_q_heads / p.num_kv_heads);
  const int tid = threadIdx.x, r = tid / 4, quarter = tid % 4;

  const T* qg = static_cast<const T*>(p.q) + h * p.q_stride_h;
  const float qscale = p.scale * kLog2e;
  for (int idx = tid; idx < kBM * kChunks; idx += kThreads) {
    const int row = idx / kChunks, c = idx % kChunks;
    Vec16<T> v;
    if (m0 + row < rows.q_len) {
      v.load(qg + std::int64_t{rows.q_begin + m0 + row} * p.q_stride_t + c * kVec);
    } else {
#pragma unroll
      for (int e = 0; e < kVec; ++e) v[e] = from_f32<T>(0.0f);
    }
#pragma unroll
    for (int e = 0; e < kVec; ++e) sq[row * S::kQStride + c * kVec + e] = to_f32(v[e]) * qscale;
  }

  const T* kg = static_cast<const T*>(kv_k(src)) + hkv * kv_head_stride(src);
  const T* vg = static_cast<const T*>(kv_v(src)) + hkv * kv_head_stride(src);
  const int last_key = p.causal ? rows.visible(m0 + kBM - 1, true) : rows.k_len;
  const int ntiles = (last_key + kBN - 1) / kBN;
  const int my_visible = rows.visible(m0 + r, p.causal);

  float acc[kQuarter];
#pragma unroll
  for (int e = 0; e < kQuarter; ++e) acc[e] = 0.0f;
  float m = -INFINITY, l = 0.0f;

  for (int t = 0; t < ntiles; ++t) {
    __syncthreads();  // the previous tile (and at t == 0 the query tile) is complete
    for (int idx = tid; idx < kBN * kChunks; idx += kThreads) {
      const int row = idx / kChunks, c = idx % kChunks;
      const int pos = t * kBN + row;
      const std::int64_t off = pos < rows.k_len ? seq.row_offset(pos) : -1;
      Vec16<T> kv, vv;
      if (off >= 0) {
        kv.load(kg + off + c * kVec);
        vv.load(vg + off + c * kVec);
      } else {
#pragma unroll
        for (int e = 0; e < kVec; ++e) kv[e] = vv[e] = from_f32<T>(0.0f);
      }
      kv.store(sk + row * S::kKvStride + c * kVec);
      vv.store(sv + row * S::kKvStride + c * kVec);
    }
    __syncthreads();

    float s[kBN / 4];
    float mx = -INFINITY;
#pragma unroll
    for (int i = 0; i < kBN / 4; ++i) {
      const int n = quarter + 4 * i;
      float dot = 0.0f;
#pragma unroll 4
      for (int c = 0; c < kChunks; ++c) {
        Vec16<T> kv;
        kv.load(sk + n * S::kKvStride + c * kVec);
        const float4 q0 = *reinterpret_cast<const float4*>(sq + r * S::kQStride + c * kVec);
        const float4 q1 = *reinterpret_cast<const float4*>(sq + r * S::kQStride + c * kVec + 4);
        dot = fmaf(q0.x, to_f32(kv[0]), dot);
        dot = fmaf(q0.y, to_f32(kv[1]), dot);
        dot = fmaf(q0.z, to_f32(kv[2]), dot);
        dot = fmaf(q0.w, to_f32(kv[3]), dot);
        dot = fmaf(q1.x, to_f32(kv[4]), dot);
        dot = fmaf(q1.y, to_f32(kv[5]), dot);
        dot = fmaf(q1.z, to_f32(kv[6]), dot);
        dot = fmaf(q1.w, to_f32(kv[7]), dot);
      }
      s[i] = t * kBN + n < my_visible ? dot : -INFINITY;
      mx = fmaxf(mx, s[i]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_new = fmaxf(m, mx);
    const float base = m_new == -INFINITY ? 0.0f : m_new;
    const float alpha = exp2f(m - base);
    float sum = 0.0f;
#pragma unroll
    for (int i = 0; i < kBN / 4; ++i) {
      const float pr = exp2f(s[i] - base);
      sp[r * S::kPStride + quarter + 4 * i] = pr;
      sum += pr;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    l = l * alpha + sum;
    m = m_new;
    __syncwarp();  // row r's probabilities come from the 4 threads of this warp

#pragma unroll
    for (int e = 0; e < kQuarter; ++e) acc[e] *= alpha;
    for (int n = 0; n < kBN; ++n) {
      const float pr = sp[r * S::kPStride + n];
#pragma unroll
      for (int c = 0; c < kQuarter / kVec; ++c) {
        Vec16<T> vv;
        vv.load(sv + n * S::kKvStride + quarter * kQuarter + c * kVec);
#pragma unroll
        for (int e = 0; e < kVec; ++e)
          acc[c * kVec + e] = fmaf(pr, to_f32(vv[e]), acc[c * kVec + e]);
      }
    }
    __syncwarp();  // sp row r is rewritten next tile
  }

  if (m0 + r < rows.q_len) {
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    T* dst = static_cast<T*>(p.out) + std::int64_t{rows.q_begin + m0 + r} * p.out_stride_t +
             h * p.out_stride_h + quarter * kQuarter;
#pragma unroll
    for (int c = 0; c < kQuarter / kVec; ++c) {
      Vec16<T> o;
#pragma unroll
      for (int e = 0; e < kVec; ++e) o[e] = from_f32<T>(acc[c * kVec + e] * inv);
      o.store(dst + c * kVec);
    }
  }
}

template <class T, int D>
void launch_dim(const PrefillParams& p, cudaStream_t stream) {
  using S = TiledShape<T, D>;
  const dim3 grid(static_cast<unsigned>(ceil_div(p.max_q_len, kBM)),
                  static_cast<unsigned>(p.num_q_heads), static_cast<unsigned>(p.batch));
  with_source(p, [&](auto src) {
    const auto kernel = tiled_kernel<T, D, decltype(src)>;
    static const bool smem_ok = [&] {
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(S::kSmemBytes)),
            "cudaFuncSetAttribute(prefill tiled)");
      return true;
    }();
    (void)smem_ok;
    kernel<<<grid, kThreads, S::kSmemBytes, stream>>>(p, src);
    check_launch("prefill_attention tiled");
  });
}

template <class T>
void launch_typed(const PrefillParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 64:
      return launch_dim<T, 64>(p, stream);
    case 128:
      return launch_dim<T, 128>(p, stream);
    case 256:
      return launch_dim<T, 256>(p, stream);
    default:
      fail("prefill_attention tiled: head_dim must be 64, 128 or 256");
  }
}

}  // namespace

void launch_tiled(const PrefillParams& p, cudaStream_t stream) {
  if (p.max_q_len <= 0) return;
  if (p.dtype == DType::f16) return launch_typed<__half>(p, stream);
  if (p.dtype == DType::bf16) return launch_typed<__nv_bfloat16>(p, stream);
  fail("prefill_attention: dtype must be f16 or bf16");
}

}  // namespace klab::cuda::prefill
