// Scaled dot-product attention: varlen prefill over packed keys, chunked prefill against a
// cache, and decode. Every variant gathers one sequence's keys and values into f64 and runs
// the same textbook softmax(scale * q k^T) v on them.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

namespace detail {

void expect_offsets(std::string_view op, std::string_view arg, std::span<const std::int32_t> cu,
                    std::int64_t total) {
  check_arg(!cu.empty() && cu.front() == 0, op, arg, "expected offsets starting at 0");
  for (std::size_t b = 1; b < cu.size(); ++b)
    check_arg(cu[b] >= cu[b - 1], op, arg,
              "offsets decrease at [" + std::to_string(b) + "]: " + std::to_string(cu[b - 1]) +
                  " -> " + std::to_string(cu[b]));
  check_arg(cu.back() == total, op, arg,
            "expected the last offset to be " + std::to_string(total) + " (rows), got " +
                std::to_string(cu.back()));
}

}  // namespace detail

namespace {

// One sequence's keys and values, [len, heads, dim] in f64.
struct SequenceKv {
  std::int64_t len = 0, heads = 0, dim = 0;
  std::vector<double> k, v;

  SequenceKv(std::int64_t len_, std::int64_t heads_, std::int64_t dim_)
      : len(len_),
        heads(heads_),
        dim(dim_),
        k(static_cast<std::size_t>(len * heads * dim)),
        v(k.size()) {}
  std::size_t at(std::int64_t j, std::int64_t h, std::int64_t i) const {
    return static_cast<std::size_t>((j * heads + h) * dim + i);
  }
};

SequenceKv gather_packed(const TensorView& k, const TensorView& v, std::int64_t begin,
                         std::int64_t end) {
  SequenceKv kv(end - begin, k.dim(1), k.dim(2));
  for (std::int64_t j = 0; j < kv.len; ++j)
    for (std::int64_t h = 0; h < kv.heads; ++h)
      for (std::int64_t i = 0; i < kv.dim; ++i) {
        kv.k[kv.at(j, h, i)] = detail::load(k, {begin + j, h, i});
        kv.v[kv.at(j, h, i)] = detail::load(v, {begin + j, h, i});
      }
  return kv;
}

SequenceKv gather_cached(const KvCacheView& cache, std::int64_t b, std::int64_t len) {
  SequenceKv kv(len, cache.num_kv_heads(), cache.head_dim());
  for (std::int64_t j = 0; j < kv.len; ++j)
    for (std::int64_t h = 0; h < kv.heads; ++h) {
      const std::int64_t k_at = detail::cache_k_offset(cache, b, j, h);
      const std::int64_t v_at = detail::cache_v_offset(cache, b, j, h);
      for (std::int64_t i = 0; i < kv.dim; ++i) {
        kv.k[kv.at(j, h, i)] = load_f32(cache.k, k_at + i * cache.k.stride[3]);
        kv.v[kv.at(j, h, i)] = load_f32(cache.v, v_at + i * cache.v.stride[3]);
      }
    }
  return kv;
}

// Query rows [q_begin, q_begin + q_len) of q / out belong to one sequence whose keys are `kv`;
// the queries sit at the last q_len positions, so causal row i sees keys j <= kv.len - q_len + i.
// Query head h reads kv head h / (Hq / Hkv).
void attend_sequence(const TensorView& out, const TensorView& q, std::int64_t q_begin,
                     std::int64_t q_len, const SequenceKv& kv, float scale, bool causal) {
  const std::int64_t hq = q.dim(1), group = hq / kv.heads;
  std::vector<double> score(static_cast<std::size_t>(kv.len));
  std::vector<double> acc(static_cast<std::size_t>(kv.dim));
  for (std::int64_t i = 0; i < q_len; ++i) {
    const std::int64_t row = q_begin + i;
    const std::int64_t visible = causal ? kv.len - q_len + i + 1 : kv.len;
    for (std::int64_t h = 0; h < hq; ++h) {
      const std::int64_t hk = h / group;
      double max = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < visible; ++j) {
        double dot = 0.0;
        for (std::int64_t d = 0; d < kv.dim; ++d)
          dot += double(detail::load(q, {row, h, d})) * kv.k[kv.at(j, hk, d)];
        score[static_cast<std::size_t>(j)] = dot * scale;
        max = std::max(max, dot * scale);
      }
      double sum = 0.0;
      for (std::int64_t j = 0; j < visible; ++j)
        sum += (score[static_cast<std::size_t>(j)] =
                    std::exp(score[static_cast<std::size_t>(j)] - max));
      std::fill(acc.begin(), acc.end(), 0.0);
      for (std::int64_t j = 0; j < visible; ++j)
        for (std::int64_t d = 0; d < kv.dim; ++d)
          acc[static_cast<std::size_t>(d)] +=
              score[static_cast<std::size_t>(j)] * kv.v[kv.at(j, hk, d)];
      for (std::int64_t d = 0; d < kv.dim; ++d)
        detail::store(out, {row, h, d}, acc[static_cast<std::size_t>(d)] / sum);
    }
  }
}

void check_scale(std::string_view op, float scale) {
  check_arg(std::isfinite(scale) && scale > 0.0f, op, "scale",
            "expected a finite value > 0, got " + std::to_string(scale));
}

// q and out: [T, Hq, D] with Hq a multiple of hkv and D == head_dim.
void check_queries(std::string_view op, const TensorView& out, const TensorView& q,
                   std::int64_t hkv, std::int64_t head_dim) {
  detail::expect_host_float(op, "q", q, 3);
  detail::expect_host_float(op, "out", out, 3);
  detail::expect_same_shape(op, "out", out, q);
  check_arg(q.dim(1) >= 1 && q.dim(1) % hkv == 0, op, "q",
            "expected a multiple of " + std::to_string(hkv) + " kv heads as query heads, got " +
                shape_str(q));
  expect_dim(op, "q", q, 2, head_dim);
}

// Each sequence has no more queries than keys (its queries are its last positions).
void check_query_lengths(std::string_view op, std::span<const std::int32_t> cu_q,
                         std::span<const std::int32_t> k_lens_or_cu_k, bool k_is_offsets,
                         std::string_view k_arg) {
  for (std::size_t b = 0; b + 1 < cu_q.size(); ++b) {
    const std::int64_t q_len = cu_q[b + 1] - cu_q[b];
    const std::int64_t k_len =
        k_is_offsets ? k_lens_or_cu_k[b + 1] - k_lens_or_cu_k[b] : k_lens_or_cu_k[b];
    check_arg(q_len <= k_len, op, k_arg,
              "sequence " + std::to_string(b) + " has " + std::to_string(q_len) +
                  " queries but only " + std::to_string(k_len) + " keys");
  }
}

void prefill_cached(std::string_view op, const TensorView& out, const TensorView& q,
                    const KvCacheView& cache, std::span<const std::int32_t> cu_q,
                    std::span<const std::int32_t> kv_lens, float scale, bool causal) {
  detail::check_cache_lengths(op, cache, kv_lens, "kv_lens");
  check_queries(op, out, q, cache.num_kv_heads(), cache.head_dim());
  detail::expect_span_size(op, "cu_q", cu_q.size(), kv_lens.size() + 1);
  detail::expect_offsets(op, "cu_q", cu_q, q.dim(0));
  check_query_lengths(op, cu_q, kv_lens, false, "kv_lens");
  check_scale(op, scale);
  for (std::size_t b = 0; b < kv_lens.size(); ++b) {
    const SequenceKv kv = gather_cached(cache, static_cast<std::int64_t>(b), kv_lens[b]);
    attend_sequence(out, q, cu_q[b], cu_q[b + 1] - cu_q[b], kv, scale, causal);
  }
}

}  // namespace

void attention_prefill(const TensorView& out, const TensorView& q, const TensorView& k,
                       const TensorView& v, std::span<const std::int32_t> cu_q,
                       std::span<const std::int32_t> cu_k, float scale, bool causal) {
  constexpr std::string_view op = "attention_prefill";
  detail::expect_host_float(op, "k", k, 3);
  detail::expect_host_float(op, "v", v, 3);
  detail::expect_same_shape(op, "v", v, k);
  check_arg(k.dim(1) >= 1, op, "k", "expected at least one kv head, got " + shape_str(k));
  check_queries(op, out, q, k.dim(1), k.dim(2));
  detail::expect_offsets(op, "cu_q", cu_q, q.dim(0));
  detail::expect_span_size(op, "cu_k", cu_k.size(), cu_q.size());
  detail::expect_offsets(op, "cu_k", cu_k, k.dim(0));
  check_query_lengths(op, cu_q, cu_k, true, "cu_k");
  check_scale(op, scale);
  for (std::size_t b = 0; b + 1 < cu_q.size(); ++b) {
    const SequenceKv kv = gather_packed(k, v, cu_k[b], cu_k[b + 1]);
    attend_sequence(out, q, cu_q[b], cu_q[b + 1] - cu_q[b], kv, scale, causal);
  }
}

void attention_prefill_cached(const TensorView& out, const TensorView& q, const KvCacheView& cache,
                              std::span<const std::int32_t> cu_q,
                              std::span<const std::int32_t> kv_lens, float scale, bool causal) {
  prefill_cached("attention_prefill_cached", out, q, cache, cu_q, kv_lens, scale, causal);
}

void attention_decode(const TensorView& out, const TensorView& q, const KvCacheView& cache,
                      std::span<const std::int32_t> kv_lens, float scale) {
  constexpr std::string_view op = "attention_decode";
  detail::expect_host_float(op, "q", q, 3);
  detail::expect_span_size(op, "kv_lens", kv_lens.size(), static_cast<std::size_t>(q.dim(0)));
  for (std::size_t b = 0; b < kv_lens.size(); ++b)
    check_arg(kv_lens[b] >= 1, op, "kv_lens", [&] {
      return "element [" + std::to_string(b) + "] = " + std::to_string(kv_lens[b]) +
             ": decode needs at least one cached key";
    });
  // One query per sequence: row b is the last position of sequence b.
  std::vector<std::int32_t> cu_q(kv_lens.size() + 1);
  for (std::size_t b = 0; b < cu_q.size(); ++b) cu_q[b] = static_cast<std::int32_t>(b);
  prefill_cached(op, out, q, cache, cu_q, kv_lens, scale, /*causal=*/true);
}

}  // namespace klab::ref
