// Rotary-embedding building blocks shared by the rope and qkv families: the frequency of a
// pair, an accurate sin/cos of position * frequency, and the rotation of 16-byte vectors in
// both conventions (half_split: pairs (i, i + rot/2); interleaved: pairs (2i, 2i + 1)).
#pragma once

#include <cstdint>

#include "cuda/common/dtype_traits.cuh"
#include "cuda/common/vec.cuh"

namespace klab::cuda {

// inv_freq[i]: the table's entry (plain or llama3-scaled), else theta^(-2i/rot_dim) computed
// as the host reference does (double pow, rounded to float).
__device__ __forceinline__ float rope_inv_freq(int i, int rot_dim, float theta,
                                               const float* __restrict__ table) {
  if (table) return table[i];
  return static_cast<float>(pow(static_cast<double>(theta), -2.0 * i / rot_dim));
}

// sin and cos of the angle pos * inv_freq. The angle is the f32 product, as HF and
// klab::ref compute it (__fmul_rn: never contracted into anything); it is then reduced modulo
// 2*pi in double, so the hardware __sincosf (absolute error ~4e-7 on [-pi, pi]) is accurate
// for any position, with no slow-path range reduction (which would need local memory).
__device__ __forceinline__ void rope_sincos(std::int32_t pos, float inv_freq, float& s, float& c) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  constexpr double kInvTwoPi = 0.159154943091895335768883763372514;
  const double angle = __fmul_rn(static_cast<float>(pos), inv_freq);
  const double reduced = fma(-rint(angle * kInvTwoPi), kTwoPi, angle);
  __sincosf(static_cast<float>(reduced), &s, &c);
}

// (x0, x1) -> (x0 c - x1 s, x1 c + x0 s), in float.
__device__ __forceinline__ void rotate_pair(float& x0, float& x1, float s, float c) {
  const float r0 = x0 * c - x1 * s;
  const float r1 = x1 * c + x0 * s;
  x0 = r0;
  x1 = r1;
}

// half_split: lo holds dims [i, i+N), hi holds [i + rot/2, i + rot/2 + N); pair j uses
// sin[j], cos[j].
template <class T, int N>
__device__ __forceinline__ void rotate_half_split(Vec<T, N>& lo, Vec<T, N>& hi, const float* s,
                                                  const float* c) {
#pragma unroll
  for (int j = 0; j < N; ++j) {
    float x0 = to_f32(lo[j]), x1 = to_f32(hi[j]);
    rotate_pair(x0, x1, s[j], c[j]);
    lo[j] = from_f32<T>(x0);
    hi[j] = from_f32<T>(x1);
  }
}

// interleaved: v holds N/2 pairs (2j, 2j+1); pair j uses sin[j], cos[j].
template <class T, int N>
__device__ __forceinline__ void rotate_interleaved(Vec<T, N>& v, const float* s, const float* c) {
#pragma unroll
  for (int j = 0; j < N / 2; ++j) {
    float x0 = to_f32(v[2 * j]), x1 = to_f32(v[2 * j + 1]);
    rotate_pair(x0, x1, s[j], c[j]);
    v[2 * j] = from_f32<T>(x0);
    v[2 * j + 1] = from_f32<T>(x1);
  }
}

}  // namespace klab::cuda
