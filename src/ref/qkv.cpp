// Split of a fused [q | k | v] projection into per-head tensors (GQA aware).
#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

void qkv_split(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView& qkv) {
  constexpr std::string_view op = "qkv_split";
  detail::expect_host_float(op, "q", q, 3);
  detail::expect_host_float(op, "k", k, 3);
  detail::expect_host_float(op, "v", v, 3);
  detail::expect_host_float(op, "qkv", qkv, 2);
  const std::int64_t tokens = q.dim(0), hq = q.dim(1), hkv = k.dim(1), d = q.dim(2);
  check_arg(
      hkv >= 1 && hq % hkv == 0, op, "k",
      "expected kv heads dividing " + std::to_string(hq) + " query heads, got " + shape_str(k));
  expect_shape(op, "k", k, {tokens, hkv, d});
  expect_shape(op, "v", v, {tokens, hkv, d});
  expect_shape(op, "qkv", qkv, {tokens, (hq + 2 * hkv) * d});

  for (std::int64_t t = 0; t < tokens; ++t) {
    // Columns of row t: q heads, then k heads, then v heads, each head `d` wide.
    for (std::int64_t h = 0; h < hq; ++h)
      for (std::int64_t i = 0; i < d; ++i)
        detail::store(q, {t, h, i}, detail::load(qkv, {t, h * d + i}));
    for (std::int64_t h = 0; h < hkv; ++h)
      for (std::int64_t i = 0; i < d; ++i) {
        detail::store(k, {t, h, i}, detail::load(qkv, {t, (hq + h) * d + i}));
        detail::store(v, {t, h, i}, detail::load(qkv, {t, (hq + hkv + h) * d + i}));
      }
  }
}

}  // namespace klab::ref
