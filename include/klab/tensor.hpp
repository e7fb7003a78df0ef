// Non-owning tensor views (pointer, dtype, shape up to 4-D, strides, device) and argument
// checks over them.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "klab/dtype.hpp"
#include "klab/error.hpp"

namespace klab {

enum class Device : std::uint8_t { cpu, cuda };
constexpr std::string_view device_name(Device d) {
  return d == Device::cpu ? "cpu" : "cuda";
}

constexpr int kMaxRank = 4;

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  int rank = 0;
  std::array<std::int64_t, kMaxRank> shape{};
  std::array<std::int64_t, kMaxRank> stride{};  // in elements

  // Row-major contiguous view over `data`.
  static TensorView contiguous(void* data, DType dtype, std::initializer_list<std::int64_t> shape,
                               Device device = Device::cpu);

  std::int64_t dim(int i) const { return shape[static_cast<std::size_t>(i < 0 ? rank + i : i)]; }
  std::int64_t numel() const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
  bool is_contiguous() const;

  template <class T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
  // Offset (through the strides) of the element at row-major position `linear` of the shape;
  // equals `linear` for contiguous views.
  std::int64_t strided_offset(std::int64_t linear) const;
  // Element offset of a multi-index (unchecked).
  std::int64_t offset(std::initializer_list<std::int64_t> idx) const;

  // Same memory, new contiguous shape with equal element count; requires contiguity.
  TensorView reshaped(std::initializer_list<std::int64_t> new_shape) const;
  // Rows [begin, end) of dim 0.
  TensorView slice0(std::int64_t begin, std::int64_t end) const;
};

std::string shape_str(const TensorView& t);

// Reads / writes one element as float, whatever the float dtype (host views only).
float load_f32(const TensorView& t, std::int64_t elem_offset);
void store_f32(const TensorView& t, std::int64_t elem_offset, float value);

// Argument checks. Each throws Error naming the op, the argument, expected and actual.
void expect_rank(std::string_view op, std::string_view arg, const TensorView& t, int rank);
void expect_shape(std::string_view op, std::string_view arg, const TensorView& t,
                  std::initializer_list<std::int64_t> shape);
void expect_dim(std::string_view op, std::string_view arg, const TensorView& t, int dim,
                std::int64_t size);
void expect_dtype(std::string_view op, std::string_view arg, const TensorView& t, DType dtype);
void expect_float_dtype(std::string_view op, std::string_view arg, const TensorView& t);
void expect_device(std::string_view op, std::string_view arg, const TensorView& t, Device device);
void expect_contiguous(std::string_view op, std::string_view arg, const TensorView& t);
void expect_nonnull(std::string_view op, std::string_view arg, const TensorView& t);

}  // namespace klab
