// Helpers for the GPU tests of the elementwise, norm, rope and qkv families: host <-> device
// copies of (possibly strided) views, column slices, and naming a case for SCOPED_TRACE.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/tensor.hpp"
#include "test_util.hpp"

namespace klab::test {

// A contiguous host tensor with t's dtype and shape (rank 1..4).
inline HostTensor host_like(const TensorView& t) {
  switch (t.rank) {
    case 1:
      return HostTensor(t.dtype, {t.dim(0)});
    case 2:
      return HostTensor(t.dtype, {t.dim(0), t.dim(1)});
    case 3:
      return HostTensor(t.dtype, {t.dim(0), t.dim(1), t.dim(2)});
    default:
      return HostTensor(t.dtype, {t.dim(0), t.dim(1), t.dim(2), t.dim(3)});
  }
}

// Element offset of flat element i of t (row-major over its shape, strides honoured).
inline std::int64_t flat_to_offset(const TensorView& t, std::int64_t i) {
  std::int64_t off = 0;
  for (int d = t.rank - 1; d >= 0; --d) {
    off += (i % t.dim(d)) * t.stride[static_cast<std::size_t>(d)];
    i /= t.dim(d);
  }
  return off;
}

// Contiguous host copy of a host view with any strides.
inline HostTensor compact(const TensorView& t) {
  HostTensor out = host_like(t);
  for (std::int64_t i = 0; i < t.numel(); ++i)
    store_f32(out.view(), i, load_f32(t, flat_to_offset(t, i)));
  return out;
}

inline HostTensor fetch(const DeviceTensor& d) {
  HostTensor h = host_like(d.view());
  d.download(h.view());
  return h;
}

inline DeviceTensor upload_i32(std::span<const std::int32_t> values) {
  HostTensor h(DType::i32, {static_cast<std::int64_t>(values.size())});
  if (!values.empty()) std::memcpy(h.view().data, values.data(), values.size_bytes());
  return DeviceTensor::upload(h.view());
}

inline DeviceTensor upload_f32(std::span<const float> values) {
  HostTensor h(DType::f32, {static_cast<std::int64_t>(values.size())});
  if (!values.empty()) std::memcpy(h.view().data, values.data(), values.size_bytes());
  return DeviceTensor::upload(h.view());
}

// Columns [begin, end) of a rank-2 view (same rows and row stride).
inline TensorView cols(const TensorView& t, std::int64_t begin, std::int64_t end) {
  TensorView v = t;
  v.data = static_cast<char*>(t.data) + static_cast<std::ptrdiff_t>(begin * t.stride[1]) *
                                            static_cast<std::ptrdiff_t>(dtype_size(t.dtype));
  v.shape[1] = end - begin;
  return v;
}

// The same view shape and strides over other memory (host mirror of a device view or back).
inline TensorView same_layout(const TensorView& like_view, const TensorView& like_base,
                              const TensorView& base) {
  TensorView v = like_view;
  const auto offset =
      static_cast<const char*>(like_view.data) - static_cast<const char*>(like_base.data);
  v.data = static_cast<char*>(base.data) + offset;
  v.device = base.device;
  return v;
}

inline std::vector<DType> float_dtypes() {
  return {DType::f16, DType::bf16, DType::f32};
}

inline std::string dt(DType d) {
  return std::string(dtype_name(d));
}

}  // namespace klab::test
