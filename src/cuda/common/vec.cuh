// 16-byte vectors of N elements: one ld.global.v4 / st.global.v4 per thread.
#pragma once

#include <cstdint>

#include "cuda/common/dtype_traits.cuh"

namespace klab::cuda {

template <class T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];

  __device__ __forceinline__ void load(const T* __restrict__ p) {
    *this = *reinterpret_cast<const Vec*>(p);
  }
  __device__ __forceinline__ void store(T* __restrict__ p) const {
    *reinterpret_cast<Vec*>(p) = *this;
  }
  __device__ __forceinline__ T& operator[](int i) { return v[i]; }
  __device__ __forceinline__ const T& operator[](int i) const { return v[i]; }
};

// Elements of T per 16-byte vector.
template <class T>
constexpr int kVec16 = 16 / sizeof(T);

template <class T>
using Vec16 = Vec<T, kVec16<T>>;

__host__ __device__ constexpr bool is_aligned16(const void* p) {
  return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0;
}

}  // namespace klab::cuda
