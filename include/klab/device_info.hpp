// What CUDA device (if any) this process sees. Safe to call on machines without a GPU.
#pragma once

#include <cstdint>
#include <string>

namespace klab {

struct DeviceInfo {
  std::string name;
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  std::int64_t l2_bytes = 0;
  std::int64_t global_mem_bytes = 0;
  std::int64_t shared_mem_per_block_optin = 0;
  int driver_version = 0;   // e.g. 13000
  int runtime_version = 0;  // e.g. 13000
  int sm_clock_khz = 0;
  int mem_clock_khz = 0;
  int mem_bus_width_bits = 0;
};

// True when the library was built with the CUDA backend.
bool built_with_cuda();
// Number of usable CUDA devices; 0 without a driver or GPU, never throws.
int cuda_device_count();
// Throws Error when there is no such device.
DeviceInfo cuda_device_info(int device = 0);

}  // namespace klab
