// The one error type of the library, and argument checks that name op, argument and the
// expected vs actual value.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace klab {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& message);

// Throws Error("<op>: argument '<arg>': <detail>") when cond is false.
inline void check_arg(bool cond, std::string_view op, std::string_view arg,
                      const std::string& detail) {
  if (!cond) fail(std::string(op) + ": argument '" + std::string(arg) + "': " + detail);
}

}  // namespace klab
