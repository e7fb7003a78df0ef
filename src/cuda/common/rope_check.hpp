// Host-side checks of rotary-embedding arguments, shared by the rope and qkv families
// (header-only: the families are separate libraries).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "klab/cuda/rope.hpp"
#include "klab/error.hpp"
#include "klab/tensor.hpp"

namespace klab::cuda {

// Checks `f` against the head dim and returns the resolved rot_dim.
inline int resolve_rot_dim(std::string_view op, const RopeFreqs& f, std::int64_t head_dim) {
  std::int64_t rot = 0;
  if (f.inv_freq.data) {
    expect_rank(op, "inv_freq", f.inv_freq, 1);
    expect_dtype(op, "inv_freq", f.inv_freq, DType::f32);
    expect_device(op, "inv_freq", f.inv_freq, Device::cuda);
    expect_contiguous(op, "inv_freq", f.inv_freq);
    rot = 2 * f.inv_freq.dim(0);
    check_arg(f.rot_dim == 0 || f.rot_dim == rot, op, "rot_dim",
              "is " + std::to_string(f.rot_dim) + " but inv_freq has " +
                  std::to_string(f.inv_freq.dim(0)) + " entries");
  } else {
    rot = f.rot_dim != 0 ? f.rot_dim : head_dim;
    check_arg(std::isfinite(f.theta) && f.theta > 1.0f, op, "theta",
              "expected a finite value > 1, got " + std::to_string(f.theta));
  }
  check_arg(rot > 0 && rot % 2 == 0 && rot <= head_dim, op, "rot_dim",
            "expected an even value in [2, head dim " + std::to_string(head_dim) + "], got " +
                std::to_string(rot));
  check_arg(f.style == RopeStyle::half_split || f.style == RopeStyle::interleaved, op, "style",
            "unknown RoPE style");
  return static_cast<int>(rot);
}

// A device i32 [tokens] contiguous index array (positions, sequence ids).
inline void check_index_array(std::string_view op, std::string_view arg, const TensorView& t,
                              std::int64_t tokens) {
  expect_rank(op, arg, t, 1);
  expect_dtype(op, arg, t, DType::i32);
  expect_device(op, arg, t, Device::cuda);
  expect_contiguous(op, arg, t);
  expect_dim(op, arg, t, 0, tokens);
}

}  // namespace klab::cuda
