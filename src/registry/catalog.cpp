#include <mutex>

#include "klab/registry.hpp"

namespace klab::registry {

namespace {
std::vector<VariantInfo>& catalog() {
  static std::vector<VariantInfo> all;
  return all;
}
std::mutex& catalog_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

void add_to_catalog(VariantInfo info) {
  std::lock_guard lock(catalog_mutex());
  catalog().push_back(std::move(info));
}

std::vector<VariantInfo> list_all() {
  std::lock_guard lock(catalog_mutex());
  return catalog();
}

}  // namespace klab::registry
