// The one error type of the library, and argument checks that name op, argument and the
// expected vs actual value.
#pragma once

#include <concepts>
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

// The same, with the detail built only on failure: for checks inside loops over large arrays,
// where building a message per element would cost more than the loop itself.
template <std::invocable MakeDetail>
void check_arg(bool cond, std::string_view op, std::string_view arg, MakeDetail&& make_detail) {
  if (!cond) check_arg(false, op, arg, std::string(make_detail()));
}

}  // namespace klab
