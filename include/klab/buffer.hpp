// Owning buffers: aligned host memory and CUDA device memory (RAII), and tensors over them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "klab/tensor.hpp"

namespace klab {

constexpr std::size_t kHostAlignment = 64;

class HostBuffer {
 public:
  HostBuffer() = default;
  explicit HostBuffer(std::size_t bytes);
  void* data() const { return ptr_.get(); }
  std::size_t size() const { return bytes_; }

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> ptr_;
  std::size_t bytes_ = 0;
};

// cudaMalloc'd memory. Throws Error when CUDA is unavailable.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  void* data() const { return ptr_.get(); }
  std::size_t size() const { return bytes_; }

  void copy_from_host(const void* src, std::size_t bytes, std::size_t dst_offset = 0);
  void copy_to_host(void* dst, std::size_t bytes, std::size_t src_offset = 0) const;
  // Fills every byte with `value` (e.g. 0xFF to poison outputs before a test).
  void fill_bytes(std::uint8_t value);

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> ptr_;
  std::size_t bytes_ = 0;
};

// A buffer plus a contiguous view of it.
class HostTensor {
 public:
  HostTensor() = default;
  HostTensor(DType dtype, std::initializer_list<std::int64_t> shape);
  const TensorView& view() const { return view_; }
  template <class T>
  T* ptr() const {
    return view_.ptr<T>();
  }

 private:
  HostBuffer buf_;
  TensorView view_;
};

class DeviceTensor {
 public:
  DeviceTensor() = default;
  DeviceTensor(DType dtype, std::initializer_list<std::int64_t> shape);
  // Allocates and uploads a contiguous host tensor of the same shape.
  static DeviceTensor upload(const TensorView& host);
  void download(const TensorView& host) const;
  const TensorView& view() const { return view_; }
  void poison() { buf_.fill_bytes(0xFF); }

 private:
  DeviceBuffer buf_;
  TensorView view_;
};

}  // namespace klab
