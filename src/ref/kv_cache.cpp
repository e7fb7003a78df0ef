// KV caches as attention reads them (contiguous or paged), and the append that fills them.
#include <array>
#include <string>

#include "klab/ref.hpp"
#include "ref/checks.hpp"

namespace klab::ref {

namespace detail {

namespace {

std::int64_t capacity_per_sequence(const KvCacheView& cache) {
  return cache.paged ? std::int64_t{cache.max_blocks_per_seq} * cache.page_size : cache.k.dim(1);
}

// Index along cache.k's dim 0 and dim 1 of (sequence b, position s). Assumes checked input.
std::array<std::int64_t, 2> slot_of(const KvCacheView& cache, std::int64_t b, std::int64_t s) {
  if (!cache.paged) return {b, s};
  const auto entry = static_cast<std::size_t>(b * cache.max_blocks_per_seq + s / cache.page_size);
  return {cache.block_table[entry], s % cache.page_size};
}

// The block-table entry holding (b, s) names an existing page.
void check_block_entry(std::string_view op, const KvCacheView& cache, std::int64_t b,
                       std::int64_t s) {
  if (!cache.paged) return;
  const auto entry = static_cast<std::size_t>(b * cache.max_blocks_per_seq + s / cache.page_size);
  expect_in_range(op, "cache.block_table", entry, cache.block_table[entry], 0, cache.k.dim(0));
}

}  // namespace

std::int64_t check_cache(std::string_view op, const KvCacheView& cache) {
  expect_host_float(op, "cache.k", cache.k, 4);
  expect_host_float(op, "cache.v", cache.v, 4);
  expect_same_shape(op, "cache.v", cache.v, cache.k);
  check_arg(cache.k.dim(2) >= 1 && cache.k.dim(3) >= 1, op, "cache.k",
            "expected at least one kv head of at least one dim, got " + shape_str(cache.k));
  if (!cache.paged) return cache.k.dim(0);
  check_arg(cache.page_size >= 1 && cache.page_size == cache.k.dim(1), op, "cache.page_size",
            "expected " + std::to_string(cache.k.dim(1)) + " (dim 1 of cache.k " +
                shape_str(cache.k) + "), got " + std::to_string(cache.page_size));
  check_arg(cache.max_blocks_per_seq >= 1, op, "cache.max_blocks_per_seq",
            "expected >= 1, got " + std::to_string(cache.max_blocks_per_seq));
  const auto row = static_cast<std::size_t>(cache.max_blocks_per_seq);
  check_arg(cache.block_table.size() % row == 0, op, "cache.block_table",
            "expected a multiple of max_blocks_per_seq = " + std::to_string(row) +
                " elements, got " + std::to_string(cache.block_table.size()));
  return static_cast<std::int64_t>(cache.block_table.size() / row);
}

void check_cache_lengths(std::string_view op, const KvCacheView& cache,
                         std::span<const std::int32_t> kv_lens, std::string_view lens_arg) {
  const std::int64_t num_seqs = check_cache(op, cache);
  check_arg(static_cast<std::int64_t>(kv_lens.size()) <= num_seqs, op, lens_arg,
            "has " + std::to_string(kv_lens.size()) + " sequences, the cache addresses only " +
                std::to_string(num_seqs));
  const std::int64_t capacity = capacity_per_sequence(cache);
  for (std::size_t b = 0; b < kv_lens.size(); ++b) {
    expect_in_range(op, lens_arg, b, kv_lens[b], 0, capacity + 1);
    if (!cache.paged) continue;
    for (std::int64_t s = 0; s < kv_lens[b]; s += cache.page_size)
      check_block_entry(op, cache, static_cast<std::int64_t>(b), s);
  }
}

std::int64_t cache_k_offset(const KvCacheView& cache, std::int64_t b, std::int64_t s,
                            std::int64_t h) {
  const auto [i0, i1] = slot_of(cache, b, s);
  return cache.k.offset({i0, i1, h, 0});
}

std::int64_t cache_v_offset(const KvCacheView& cache, std::int64_t b, std::int64_t s,
                            std::int64_t h) {
  const auto [i0, i1] = slot_of(cache, b, s);
  return cache.v.offset({i0, i1, h, 0});
}

}  // namespace detail

void kv_append(const KvCacheView& cache, const TensorView& k_new, const TensorView& v_new,
               std::span<const std::int32_t> seq, std::span<const std::int32_t> pos) {
  constexpr std::string_view op = "kv_append";
  const std::int64_t num_seqs = detail::check_cache(op, cache);
  const std::int64_t hkv = cache.num_kv_heads(), d = cache.head_dim();
  detail::expect_host_float(op, "k_new", k_new, 3);
  detail::expect_host_float(op, "v_new", v_new, 3);
  const std::int64_t tokens = k_new.dim(0);
  expect_shape(op, "k_new", k_new, {tokens, hkv, d});
  expect_shape(op, "v_new", v_new, {tokens, hkv, d});
  detail::expect_span_size(op, "seq", seq.size(), static_cast<std::size_t>(tokens));
  detail::expect_span_size(op, "pos", pos.size(), static_cast<std::size_t>(tokens));
  const std::int64_t capacity = detail::capacity_per_sequence(cache);
  for (std::size_t t = 0; t < seq.size(); ++t) {
    detail::expect_in_range(op, "seq", t, seq[t], 0, num_seqs);
    detail::expect_in_range(op, "pos", t, pos[t], 0, capacity);
    detail::check_block_entry(op, cache, seq[t], pos[t]);
  }

  for (std::int64_t t = 0; t < tokens; ++t) {
    const std::int32_t b = seq[static_cast<std::size_t>(t)], s = pos[static_cast<std::size_t>(t)];
    for (std::int64_t h = 0; h < hkv; ++h) {
      const std::int64_t k_at = detail::cache_k_offset(cache, b, s, h);
      const std::int64_t v_at = detail::cache_v_offset(cache, b, s, h);
      for (std::int64_t i = 0; i < d; ++i) {
        store_f32(cache.k, k_at + i * cache.k.stride[3], detail::load(k_new, {t, h, i}));
        store_f32(cache.v, v_at + i * cache.v.stride[3], detail::load(v_new, {t, h, i}));
      }
    }
  }
}

void kv_copy_page(const KvCacheView& cache, std::int32_t src_page, std::int32_t dst_page,
                  int tokens) {
  constexpr std::string_view op = "kv_copy_page";
  detail::check_cache(op, cache);
  check_arg(cache.paged, op, "cache", "expected a paged cache");
  const std::int64_t num_pages = cache.k.dim(0);
  detail::expect_in_range(op, "src_page", 0, src_page, 0, num_pages);
  detail::expect_in_range(op, "dst_page", 0, dst_page, 0, num_pages);
  detail::expect_in_range(op, "tokens", 0, tokens, 0, cache.page_size + 1);
  for (const TensorView& t : {cache.k, cache.v})
    for (std::int64_t s = 0; s < tokens; ++s)
      for (std::int64_t h = 0; h < t.dim(2); ++h)
        for (std::int64_t i = 0; i < t.dim(3); ++i)
          store_f32(t, t.offset({dst_page, s, h, i}), load_f32(t, t.offset({src_page, s, h, i})));
}

}  // namespace klab::ref
