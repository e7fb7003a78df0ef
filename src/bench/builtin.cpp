// Registers the families that live in klab_bench (a static library cannot rely on static
// registrars being linked, so the CLI calls this explicitly).
#include <mutex>

#include "bench/builtin.hpp"

namespace klab::bench {

void register_builtin_families() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_family(detail::copy_family());
    register_family(detail::cublas_family());
  });
}

}  // namespace klab::bench
