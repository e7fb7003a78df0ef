// What machine a result came from: CPU model and cores, OS, GPU properties.
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <fstream>

#include "bench/ceilings_cuda.hpp"
#include "klab/bench.hpp"

namespace klab::bench {

namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      auto value = line.substr(colon + 1);
      const auto first = value.find_first_not_of(" \t");
      return first == std::string::npos ? "" : value.substr(first);
    }
  }
  return "unknown";
}

std::string os_name() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  return std::string(u.sysname) + " " + u.release + " " + u.machine;
}

}  // namespace

MachineInfo machine_info() {
  MachineInfo m;
  m.cpu_model = cpu_model_name();
  m.cpu_cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  m.os = os_name();
  m.built_with_cuda = built_with_cuda();
  if (m.built_with_cuda && cuda_device_count() > 0) {
    m.gpu = cuda_device_info(0);
    m.cublas_version = detail::cublas_version();
  }
  return m;
}

std::string machine_slug(const MachineInfo& m) {
  if (!m.gpu) return "cpu";
  std::string name = m.gpu->name;
  // "NVIDIA H100 80GB HBM3" -> "h100-80gb-hbm3"
  if (name.rfind("NVIDIA ", 0) == 0) name = name.substr(7);
  std::string slug;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) {
      slug += static_cast<char>(std::tolower(c));
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "gpu" : slug;
}

}  // namespace klab::bench
