// Helpers shared by the reference-path tests.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/error.hpp"
#include "klab/tensor.hpp"
#include "test_util.hpp"

namespace klab::test {

// `fn` throws klab::Error whose message starts "<op>: argument '<arg>'".
inline void expect_arg_error(const std::function<void()>& fn, const std::string& op,
                             const std::string& arg) {
  const std::string want = op + ": argument '" + arg + "'";
  try {
    fn();
    ADD_FAILURE() << "no klab::Error thrown, expected one naming " << want;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(want, 0), 0u)
        << "message '" << e.what() << "' does not start with '" << want << "'";
  }
}

// A view with the same shape and dtype but claiming to live on the GPU (never dereferenced).
inline TensorView on_cuda(TensorView t) {
  t.device = Device::cuda;
  return t;
}

// A view with the same shape but another dtype (for dtype checks; never dereferenced).
inline TensorView as_dtype(TensorView t, DType dtype) {
  t.dtype = dtype;
  return t;
}

inline std::vector<float> to_vector(const TensorView& t) {
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = load_f32(t, i);
  return v;
}

inline int random_int(int lo, int hi) {  // inclusive
  return std::uniform_int_distribution<int>(lo, hi)(rng());
}

inline const char* dtype_label(DType t) {
  return dtype_name(t).data();
}

}  // namespace klab::test
