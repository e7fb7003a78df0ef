// Device memory and device queries. Built in every configuration: without the CUDA backend
// the functions report "no CUDA" instead of failing to link.
#include <string>

#include "klab/buffer.hpp"
#include "klab/device_info.hpp"

#if KLAB_HAS_CUDA
#include <cuda_runtime_api.h>

#include "klab/cuda/check.hpp"
#endif

namespace klab {

#if KLAB_HAS_CUDA

namespace cuda {

void check(cudaError_t status, const char* what, std::source_location where) {
  if (status == cudaSuccess) return;
  // A failed runtime call also sets the thread's last error; clear it here, or the next
  // check_launch (cudaGetLastError) would blame an innocent kernel for this call's failure.
  // (A sticky error from a faulted kernel stays: cudaGetLastError cannot clear those.)
  (void)cudaGetLastError();
  fail(std::string("CUDA error in ") + what + " at " + where.file_name() + ":" +
       std::to_string(where.line()) + ": " + cudaGetErrorName(status) + " (" +
       cudaGetErrorString(status) + ")");
}

void check_launch(const char* kernel, std::source_location where) {
  const cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) return;
  fail(std::string("CUDA launch of ") + kernel + " failed at " + where.file_name() + ":" +
       std::to_string(where.line()) + ": " + cudaGetErrorName(status) + " (" +
       cudaGetErrorString(status) + ")");
}

}  // namespace cuda

bool built_with_cuda() {
  return true;
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

DeviceInfo cuda_device_info(int device) {
  if (device < 0 || device >= cuda_device_count())
    fail("cuda_device_info: no CUDA device " + std::to_string(device));
  cudaDeviceProp p{};
  cuda::check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  DeviceInfo info;
  info.name = p.name;
  info.cc_major = p.major;
  info.cc_minor = p.minor;
  info.sm_count = p.multiProcessorCount;
  info.l2_bytes = p.l2CacheSize;
  info.global_mem_bytes = static_cast<std::int64_t>(p.totalGlobalMem);
  info.shared_mem_per_block_optin = static_cast<std::int64_t>(p.sharedMemPerBlockOptin);
  cuda::check(cudaDriverGetVersion(&info.driver_version), "cudaDriverGetVersion");
  cuda::check(cudaRuntimeGetVersion(&info.runtime_version), "cudaRuntimeGetVersion");
  cudaDeviceGetAttribute(&info.sm_clock_khz, cudaDevAttrClockRate, device);
  cudaDeviceGetAttribute(&info.mem_clock_khz, cudaDevAttrMemoryClockRate, device);
  cudaDeviceGetAttribute(&info.mem_bus_width_bits, cudaDevAttrGlobalMemoryBusWidth, device);
  return info;
}

void DeviceBuffer::Free::operator()(void* p) const {
  cudaFree(p);
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  void* p = nullptr;
  cuda::check(cudaMalloc(&p, bytes == 0 ? 16 : bytes),
              ("cudaMalloc(" + std::to_string(bytes) + " bytes)").c_str());
  ptr_.reset(p);
}

void DeviceBuffer::copy_from_host(const void* src, std::size_t bytes, std::size_t dst_offset) {
  if (dst_offset + bytes > bytes_) fail("DeviceBuffer::copy_from_host: out of range");
  cuda::check(
      cudaMemcpy(static_cast<char*>(data()) + dst_offset, src, bytes, cudaMemcpyHostToDevice),
      "cudaMemcpy H2D");
}

void DeviceBuffer::copy_to_host(void* dst, std::size_t bytes, std::size_t src_offset) const {
  if (src_offset + bytes > bytes_) fail("DeviceBuffer::copy_to_host: out of range");
  cuda::check(
      cudaMemcpy(dst, static_cast<const char*>(data()) + src_offset, bytes, cudaMemcpyDeviceToHost),
      "cudaMemcpy D2H");
}

void DeviceBuffer::fill_bytes(std::uint8_t value) {
  cuda::check(cudaMemset(data(), value, bytes_), "cudaMemset");
}

#else  // !KLAB_HAS_CUDA

bool built_with_cuda() {
  return false;
}
int cuda_device_count() {
  return 0;
}
DeviceInfo cuda_device_info(int) {
  fail("cuda_device_info: klab was built without CUDA");
}
void DeviceBuffer::Free::operator()(void*) const {}
DeviceBuffer::DeviceBuffer(std::size_t) {
  fail("DeviceBuffer: klab was built without CUDA");
}
void DeviceBuffer::copy_from_host(const void*, std::size_t, std::size_t) {
  fail("DeviceBuffer: klab was built without CUDA");
}
void DeviceBuffer::copy_to_host(void*, std::size_t, std::size_t) const {
  fail("DeviceBuffer: klab was built without CUDA");
}
void DeviceBuffer::fill_bytes(std::uint8_t) {
  fail("DeviceBuffer: klab was built without CUDA");
}

#endif

DeviceTensor::DeviceTensor(DType dtype, std::initializer_list<std::int64_t> shape) {
  view_ = TensorView::contiguous(nullptr, dtype, shape, Device::cuda);
  buf_ = DeviceBuffer(view_.nbytes());
  view_.data = buf_.data();
}

DeviceTensor DeviceTensor::upload(const TensorView& host) {
  expect_device("DeviceTensor::upload", "host", host, Device::cpu);
  expect_contiguous("DeviceTensor::upload", "host", host);
  DeviceTensor t;
  t.view_ = host;
  t.view_.device = Device::cuda;
  t.buf_ = DeviceBuffer(host.nbytes());
  t.view_.data = t.buf_.data();
  t.buf_.copy_from_host(host.data, host.nbytes());
  return t;
}

void DeviceTensor::download(const TensorView& host) const {
  expect_device("DeviceTensor::download", "host", host, Device::cpu);
  expect_contiguous("DeviceTensor::download", "host", host);
  if (host.nbytes() != view_.nbytes())
    fail("DeviceTensor::download: host " + shape_str(host) + " vs device " + shape_str(view_));
  buf_.copy_to_host(host.data, host.nbytes());
}

}  // namespace klab
