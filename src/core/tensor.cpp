#include "klab/tensor.hpp"

#include <string>

namespace klab {

TensorView TensorView::contiguous(void* data, DType dtype,
                                  std::initializer_list<std::int64_t> shape, Device device) {
  if (shape.size() > kMaxRank) fail("TensorView: rank " + std::to_string(shape.size()) + " > 4");
  TensorView t;
  t.data = data;
  t.dtype = dtype;
  t.device = device;
  t.rank = static_cast<int>(shape.size());
  int i = 0;
  for (auto s : shape) {
    if (s < 0) fail("TensorView: negative dimension " + std::to_string(s));
    t.shape[static_cast<std::size_t>(i++)] = s;
  }
  std::int64_t stride = 1;
  for (int d = t.rank - 1; d >= 0; --d) {
    t.stride[static_cast<std::size_t>(d)] = stride;
    stride *= t.shape[static_cast<std::size_t>(d)];
  }
  return t;
}

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (int d = 0; d < rank; ++d) n *= shape[static_cast<std::size_t>(d)];
  return n;
}

bool TensorView::is_contiguous() const {
  std::int64_t expected = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const auto i = static_cast<std::size_t>(d);
    if (shape[i] != 1 && stride[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

std::int64_t TensorView::offset(std::initializer_list<std::int64_t> idx) const {
  std::int64_t off = 0;
  std::size_t d = 0;
  for (auto i : idx) off += i * stride[d++];
  return off;
}

std::int64_t TensorView::strided_offset(std::int64_t linear) const {
  std::int64_t off = 0;
  for (int d = rank - 1; d >= 0; --d) {
    const auto i = static_cast<std::size_t>(d);
    off += (linear % shape[i]) * stride[i];
    linear /= shape[i];
  }
  return off;
}

TensorView TensorView::reshaped(std::initializer_list<std::int64_t> new_shape) const {
  if (!is_contiguous()) fail("TensorView::reshaped: view is not contiguous");
  TensorView t = contiguous(data, dtype, new_shape, device);
  if (t.numel() != numel())
    fail("TensorView::reshaped: " + shape_str(*this) + " has " + std::to_string(numel()) +
         " elements, " + shape_str(t) + " has " + std::to_string(t.numel()));
  return t;
}

TensorView TensorView::slice0(std::int64_t begin, std::int64_t end) const {
  if (rank < 1 || begin < 0 || end < begin || end > shape[0])
    fail("TensorView::slice0: [" + std::to_string(begin) + ", " + std::to_string(end) +
         ") out of range for " + shape_str(*this));
  TensorView t = *this;
  t.data = static_cast<char*>(data) + static_cast<std::ptrdiff_t>(begin * stride[0]) *
                                          static_cast<std::ptrdiff_t>(dtype_size(dtype));
  t.shape[0] = end - begin;
  return t;
}

std::string shape_str(const TensorView& t) {
  std::string s = "[";
  for (int d = 0; d < t.rank; ++d) {
    if (d) s += ", ";
    s += std::to_string(t.shape[static_cast<std::size_t>(d)]);
  }
  return s + "]";
}

float load_f32(const TensorView& t, std::int64_t i) {
  switch (t.dtype) {
    case DType::f32:
      return t.ptr<const float>()[i];
    case DType::f16:
      return f16_bits_to_f32(t.ptr<const std::uint16_t>()[i]);
    case DType::bf16:
      return bf16_bits_to_f32(t.ptr<const std::uint16_t>()[i]);
    case DType::i32:
      return static_cast<float>(t.ptr<const std::int32_t>()[i]);
    case DType::u8:
      return static_cast<float>(t.ptr<const std::uint8_t>()[i]);
  }
  return 0.0f;
}

void store_f32(const TensorView& t, std::int64_t i, float v) {
  switch (t.dtype) {
    case DType::f32:
      t.ptr<float>()[i] = v;
      return;
    case DType::f16:
      t.ptr<std::uint16_t>()[i] = f32_to_f16_bits(v);
      return;
    case DType::bf16:
      t.ptr<std::uint16_t>()[i] = f32_to_bf16_bits(v);
      return;
    case DType::i32:
      t.ptr<std::int32_t>()[i] = static_cast<std::int32_t>(v);
      return;
    case DType::u8:
      t.ptr<std::uint8_t>()[i] = static_cast<std::uint8_t>(v);
      return;
  }
}

namespace {
std::string where(std::string_view op, std::string_view arg) {
  return std::string(op) + ": argument '" + std::string(arg) + "': ";
}
}  // namespace

void expect_nonnull(std::string_view op, std::string_view arg, const TensorView& t) {
  if (!t.data && t.numel() > 0) fail(where(op, arg) + "null data pointer");
}

void expect_rank(std::string_view op, std::string_view arg, const TensorView& t, int rank) {
  if (t.rank != rank)
    fail(where(op, arg) + "expected rank " + std::to_string(rank) + ", got rank " +
         std::to_string(t.rank) + " " + shape_str(t));
  expect_nonnull(op, arg, t);
}

void expect_shape(std::string_view op, std::string_view arg, const TensorView& t,
                  std::initializer_list<std::int64_t> shape) {
  TensorView want;
  want.rank = static_cast<int>(shape.size());
  std::size_t d = 0;
  for (auto s : shape) want.shape[d++] = s;
  bool ok = t.rank == want.rank;
  for (int i = 0; ok && i < t.rank; ++i)
    ok = t.shape[static_cast<std::size_t>(i)] == want.shape[static_cast<std::size_t>(i)];
  if (!ok) fail(where(op, arg) + "expected shape " + shape_str(want) + ", got " + shape_str(t));
  expect_nonnull(op, arg, t);
}

void expect_dim(std::string_view op, std::string_view arg, const TensorView& t, int dim,
                std::int64_t size) {
  if (dim >= t.rank || t.dim(dim) != size)
    fail(where(op, arg) + "expected dim " + std::to_string(dim) + " = " + std::to_string(size) +
         ", got shape " + shape_str(t));
}

void expect_dtype(std::string_view op, std::string_view arg, const TensorView& t, DType dtype) {
  if (t.dtype != dtype)
    fail(where(op, arg) + "expected dtype " + std::string(dtype_name(dtype)) + ", got " +
         std::string(dtype_name(t.dtype)));
}

void expect_float_dtype(std::string_view op, std::string_view arg, const TensorView& t) {
  if (!is_float_dtype(t.dtype))
    fail(where(op, arg) + "expected dtype f32, f16 or bf16, got " +
         std::string(dtype_name(t.dtype)));
}

void expect_device(std::string_view op, std::string_view arg, const TensorView& t, Device device) {
  if (t.device != device)
    fail(where(op, arg) + "expected device " + std::string(device_name(device)) + ", got " +
         std::string(device_name(t.device)));
}

void expect_contiguous(std::string_view op, std::string_view arg, const TensorView& t) {
  if (!t.is_contiguous()) fail(where(op, arg) + "expected a contiguous tensor " + shape_str(t));
}

}  // namespace klab
