#include <cstdlib>
#include <string>

#include "klab/buffer.hpp"

namespace klab {

void HostBuffer::Free::operator()(void* p) const {
  std::free(p);
}

HostBuffer::HostBuffer(std::size_t bytes) : bytes_(bytes) {
  const std::size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  void* p = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
  if (!p) fail("HostBuffer: out of host memory allocating " + std::to_string(bytes) + " bytes");
  ptr_.reset(p);
}

HostTensor::HostTensor(DType dtype, std::initializer_list<std::int64_t> shape) {
  view_ = TensorView::contiguous(nullptr, dtype, shape, Device::cpu);
  buf_ = HostBuffer(view_.nbytes());
  view_.data = buf_.data();
}

}  // namespace klab
