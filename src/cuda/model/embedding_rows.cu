// Embedding lookup straight from the uploaded table: grid (tokens, parts), a thread per chunk of
// 8 consecutive elements of the token's row, so a 4096-wide row is 512 threads each with one
// load of codes (4 bytes of Q4, 8 of Q8, or 16 of f16) and one scale, all in flight at once:
// one dependent round trip after the id, where a block of 128 threads walking the row element
// by element paid 32 of them (17.3 us for one Q4_0 7B row on the H200). Rows whose chunks are
// not aligned vectors (odd widths, groups not a multiple of 8, unaligned output) take the same
// grid with per-element loads.
// Quantized rows are decoded from the plain layout exactly as klab::QuantMatrix::value does
// (float(q) * scale, then + min, each rounded in f32: no FMA contraction), so the CUDA engine
// starts from the same residual stream as the CPU one.
#include <cuda_fp16.h>

#include <string>

#include "cuda/common/launch_util.hpp"
#include "cuda/model/model_params.hpp"
#include "klab/cuda/check.hpp"

namespace klab::cuda::model_glue {

namespace {

constexpr int kThreads = 128;
constexpr int kChunk = 8;  // elements per thread
constexpr std::int64_t kMaxGridY = 65535;

using Chunk = float[kChunk];

__device__ __forceinline__ float half_bits_to_float(std::uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}

__device__ __forceinline__ float dequant(int q, float scale, float min, bool asymmetric) {
  const float v = __fmul_rn(static_cast<float>(q), scale);
  return asymmetric ? __fadd_rn(v, min) : v;
}

// Signed code of a 4- or 8-bit unsigned field n (QuantMatrix::code semantics).
__device__ __forceinline__ int signed_code(unsigned n, int bits, bool asymmetric) {
  if (asymmetric) return static_cast<int>(n);
  return bits == 4 ? static_cast<int>(n) - 8 : static_cast<int>(static_cast<std::int8_t>(n));
}

// Code of element `col` of a row whose codes start at `codes`.
__device__ __forceinline__ unsigned code_field(const std::uint8_t* __restrict__ codes,
                                               std::int64_t col, int bits) {
  if (bits == 8) return codes[col];
  const unsigned b = codes[col / 2];
  return (col & 1) ? b >> 4 : b & 15u;
}

// Elements c0 .. c0 + 7 of quantized row `row`; kVec: the chunk lies in one group and its codes
// are one aligned 4-byte (Q4) or 8-byte (Q8) word.
template <bool kVec>
__device__ __forceinline__ void quant_chunk(const QuantPlainView& w, std::int64_t row,
                                            std::int64_t c0, Chunk& out) {
  const std::int64_t row_bytes = w.cols * w.bits / 8;
  const std::uint8_t* __restrict__ codes = w.codes + row * row_bytes;
  const std::int64_t groups_before = row * (w.cols / w.group);
  if constexpr (kVec) {
    const std::int64_t g = groups_before + c0 / w.group;
    const float scale = half_bits_to_float(w.scales[g]);
    const float min = w.asymmetric ? half_bits_to_float(w.mins[g]) : 0.0f;
    std::uint32_t word[2] = {0, 0};
    if (w.bits == 4) {
      word[0] = *reinterpret_cast<const std::uint32_t*>(codes + c0 / 2);
    } else {
      const uint2 u = *reinterpret_cast<const uint2*>(codes + c0);
      word[0] = u.x, word[1] = u.y;
    }
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      const unsigned n =
          w.bits == 4 ? (word[0] >> (4 * j)) & 15u : (word[j / 4] >> (8 * (j % 4))) & 255u;
      out[j] = dequant(signed_code(n, w.bits, w.asymmetric), scale, min, w.asymmetric);
    }
  } else {
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      const std::int64_t c = c0 + j;
      if (c >= w.cols) break;
      const std::int64_t g = groups_before + c / w.group;
      const float min = w.asymmetric ? half_bits_to_float(w.mins[g]) : 0.0f;
      out[j] = dequant(signed_code(code_field(codes, c, w.bits), w.bits, w.asymmetric),
                       half_bits_to_float(w.scales[g]), min, w.asymmetric);
    }
  }
}

template <bool kVec>
__device__ __forceinline__ void dense_chunk(const std::uint16_t* __restrict__ row_data,
                                            std::int64_t cols, std::int64_t c0, Chunk& out) {
  if constexpr (kVec) {
    const uint4 u = *reinterpret_cast<const uint4*>(row_data + c0);
    const std::uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int j = 0; j < kChunk; ++j)
      out[j] = half_bits_to_float(static_cast<std::uint16_t>(words[j / 2] >> (16 * (j % 2))));
  } else {
#pragma unroll
    for (int j = 0; j < kChunk; ++j)
      if (c0 + j < cols) out[j] = half_bits_to_float(row_data[c0 + j]);
  }
}

template <bool kVec>
__global__ void __launch_bounds__(kThreads) embedding_rows_kernel(EmbeddingParams p) {
  const std::int64_t t = blockIdx.x;
  const std::int64_t c0 = (std::int64_t{blockIdx.y} * kThreads + threadIdx.x) * kChunk;
  if (c0 >= p.cols) return;
  const std::int64_t row = p.ids[t];
  Chunk v = {};
  if (row >= 0 && row < p.rows) {
    if (p.quant.codes)
      quant_chunk<kVec>(p.quant, row, c0, v);
    else
      dense_chunk<kVec>(p.dense + row * p.cols, p.cols, c0, v);
  }
  float* __restrict__ out = p.out + t * p.out_stride + c0;
  if constexpr (kVec) {
    reinterpret_cast<float4*>(out)[0] = make_float4(v[0], v[1], v[2], v[3]);
    reinterpret_cast<float4*>(out)[1] = make_float4(v[4], v[5], v[6], v[7]);
  } else {
#pragma unroll
    for (int j = 0; j < kChunk; ++j)
      if (c0 + j < p.cols) out[j] = v[j];
  }
}

// Every chunk is a group-internal aligned code word (or 16 bytes of f16) and two float4 stores.
bool chunks_are_vectors(const EmbeddingParams& p) {
  bool ok = p.cols % kChunk == 0 && p.out_stride % 4 == 0 && is_aligned(p.out, 16);
  if (p.quant.codes)
    ok = ok && p.quant.group % kChunk == 0 && is_aligned(p.quant.codes, p.quant.bits == 4 ? 4 : 8);
  else
    ok = ok && is_aligned(p.dense, 16);
  return ok;
}

}  // namespace

void launch_embedding_rows(const EmbeddingParams& p, cudaStream_t stream) {
  if (p.tokens == 0 || p.cols == 0) return;
  const std::int64_t parts = ceil_div(ceil_div(p.cols, kChunk), kThreads);
  check_arg(parts <= kMaxGridY, "embedding_rows", "out",
            "rows of " + std::to_string(p.cols) + " columns exceed one grid");
  const dim3 grid(static_cast<unsigned>(p.tokens), static_cast<unsigned>(parts));
  if (chunks_are_vectors(p))
    embedding_rows_kernel<true><<<grid, kThreads, 0, stream>>>(p);
  else
    embedding_rows_kernel<false><<<grid, kThreads, 0, stream>>>(p);
  check_launch("embedding_rows_kernel");
}

}  // namespace klab::cuda::model_glue
