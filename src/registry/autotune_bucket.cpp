// Shape buckets: the text an op's bucket function builds from its arguments.
#include <string>

#include "klab/autotune.hpp"

namespace klab::autotune {

Dim::Dim(std::string n, std::int64_t exact) : name(std::move(n)), value(std::to_string(exact)) {}
Dim::Dim(std::string n, std::string text) : name(std::move(n)), value(std::move(text)) {}

std::string range(std::int64_t n) {
  if (n <= 0) return "0";
  if (n <= 2) return std::to_string(n);
  std::int64_t hi = 4;
  while (hi < n && hi <= (std::int64_t{1} << 61)) hi *= 2;
  return std::to_string(hi / 2 + 1) + ".." + std::to_string(hi);
}

ShapeKey key(std::string dtype, std::initializer_list<Dim> dims) {
  ShapeKey k;
  k.dtype = std::move(dtype);
  for (const Dim& d : dims) {
    if (!k.bucket.empty()) k.bucket += ',';
    k.bucket += d.name;
    k.bucket += '=';
    k.bucket += d.value;
  }
  return k;
}

ShapeKey key(DType dtype, std::initializer_list<Dim> dims) {
  return key(std::string(dtype_name(dtype)), dims);
}

}  // namespace klab::autotune
