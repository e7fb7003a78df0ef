// libFuzzer target: klab::fuzz::run_tokenizer_json (fuzz/targets.hpp) on arbitrary text. Anything
// but success or klab::Error is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    klab::fuzz::run_tokenizer_json(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const klab::Error&) {
  }
  return 0;
}
