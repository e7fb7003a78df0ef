// libFuzzer target: klab::fuzz::run_safetensors (fuzz/targets.hpp) on arbitrary bytes, handed over
// as an in-memory file. Anything but success or klab::Error is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = klab::fuzz::memory_file().write(data, size);
  try {
    klab::fuzz::run_safetensors(path);
  } catch (const klab::Error&) {
  }
  return 0;
}
