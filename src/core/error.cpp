#include "klab/error.hpp"

namespace klab {

void fail(const std::string& message) {
  throw Error(message);
}

}  // namespace klab
