// Study switches: the environment variables some launch rules read (each caller keeps the value
// in a static, read once, unless it says otherwise).
#pragma once

#include <cstdlib>
#include <string_view>

namespace klab::cuda {

// $name equals value (unset: false).
inline bool env_equals(const char* name, std::string_view value) {
  const char* v = std::getenv(name);
  return v && value == v;
}

// $name as an integer (unset or not a number: 0).
inline int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : 0;
}

}  // namespace klab::cuda
