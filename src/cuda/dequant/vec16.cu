// dequant / vec16: a thread per 16-byte code chunk (32 codes at 4 bits, 16 at 8 bits; always
// inside one group, so one scale and min), magic-exponent decode, 16-byte stores.
#include "cuda/common/vec.cuh"
#include "cuda/dequant/dequant_common.cuh"
#include "klab/cuda/check.hpp"

namespace klab::cuda::dequant_impl {

namespace {

template <int I>
__device__ __forceinline__ std::uint32_t word_at(const uint4& q) {
  if constexpr (I == 0) return q.x;
  if constexpr (I == 1) return q.y;
  if constexpr (I == 2) return q.z;
  return q.w;
}

template <class Out, int Bits>
__global__ void dequant_vec16_kernel(DequantParams p) {
  constexpr int kPerChunk = 128 / Bits, kPerWord = 32 / Bits;
  const QuantPlainView& w = p.w;
  const std::int64_t ci = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t total = w.rows * w.cols / kPerChunk;
  if (ci >= total) return;
  const std::int64_t k0 = ci * kPerChunk;  // flat element index (rows are whole chunks)
  const std::int64_t grp = k0 / w.group;   // flat group index: groups never straddle rows
  const uint4 q = load_stream16(w.codes + ci * 16);
  const float s = half_bits_to_float(w.scales[grp]);
  const float mn = w.asymmetric ? half_bits_to_float(w.mins[grp]) : 0.0f;
  const int z = w.asymmetric ? 0 : (Bits == 4 ? 8 : 128);
  const std::uint32_t flip = (Bits == 8 && !w.asymmetric) ? 0x80808080u : 0u;
  const CodeDecoder<__half, Bits> dec(z);
  Out* out = static_cast<Out*>(p.out) + k0;
  const auto word = [&](auto j) {
    constexpr int J = decltype(j)::value;
    float v[kPerWord];
    decode_word_f32<Bits>(word_at<J>(q) ^ flip, dec, v);
    Vec<Out, kPerWord> o;
#pragma unroll
    for (int i = 0; i < kPerWord; ++i)
      o[i] = from_f32<Out>(dequant_value(v[i], s, mn, w.asymmetric));
    o.store(out + J * kPerWord);
  };
  word(std::integral_constant<int, 0>{});
  word(std::integral_constant<int, 1>{});
  word(std::integral_constant<int, 2>{});
  word(std::integral_constant<int, 3>{});
}

}  // namespace

void launch_vec16(const DequantParams& p, cudaStream_t stream) {
  dispatch_out(p.out_dtype, [&](auto o) {
    dispatch_bits(p.w.bits, [&](auto bits) {
      constexpr int B = decltype(bits)::value;
      constexpr int kThreads = 256;
      const std::int64_t chunks = p.w.rows * p.w.cols / (128 / B);
      const auto blocks = static_cast<unsigned>((chunks + kThreads - 1) / kThreads);
      dequant_vec16_kernel<decltype(o), B><<<blocks, kThreads, 0, stream>>>(p);
      check_launch("dequant_vec16_kernel");
    });
  });
}

}  // namespace klab::cuda::dequant_impl
