// Test KV caches holding the same random data on the host (klab::ref::KvCacheView) and on the
// device (klab::cuda::KvCacheView), contiguous or paged with a shuffled block table, plus small
// helpers to move i32 arrays and tensors. Shared by the kv_append, attn_decode and attn_prefill
// GPU tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/cuda/kv_cache.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::test {

inline DeviceTensor upload_i32(std::span<const std::int32_t> values) {
  HostTensor h(DType::i32, {static_cast<std::int64_t>(std::max<std::size_t>(values.size(), 1))});
  std::copy(values.begin(), values.end(), h.ptr<std::int32_t>());
  return DeviceTensor::upload(h.view());
}

// Host copy of a device tensor of the same shape.
inline HostTensor download(const DeviceTensor& d, std::initializer_list<std::int64_t> shape) {
  HostTensor h(d.view().dtype, shape);
  d.download(h.view());
  return h;
}

// Cumulative offsets of `lens`: {0, lens[0], lens[0] + lens[1], ...}.
inline std::vector<std::int32_t> offsets_of(std::span<const std::int32_t> lens) {
  std::vector<std::int32_t> cu(lens.size() + 1, 0);
  for (std::size_t i = 0; i < lens.size(); ++i) cu[i + 1] = cu[i] + lens[i];
  return cu;
}

struct CacheSpec {
  DType dtype = DType::bf16;
  bool paged = false;
  int page_size = 16;
  int num_kv_heads = 1;
  int head_dim = 128;
  std::vector<std::int32_t> capacity;  // tokens to provision per sequence
};

class TestKvCache {
 public:
  explicit TestKvCache(const CacheSpec& spec) : spec_(spec) {
    const auto batch = static_cast<std::int64_t>(spec.capacity.size());
    const std::int64_t hkv = spec.num_kv_heads, dim = spec.head_dim;
    if (!spec.paged) {
      std::int64_t max_s = 1;
      for (auto c : spec.capacity) max_s = std::max<std::int64_t>(max_s, c);
      k_ = random_tensor(spec.dtype, {batch, max_s, hkv, dim});
      v_ = random_tensor(spec.dtype, {batch, max_s, hkv, dim});
    } else {
      // Pages per sequence, one spare table entry left at -1, two spare pages in the pool, and
      // page ids shuffled so that neighbouring positions live in unrelated pages.
      std::int64_t pages = 2;
      for (auto c : spec.capacity) {
        const int need = std::max(1, (c + spec.page_size - 1) / spec.page_size);
        max_blocks_ = std::max(max_blocks_, need + 1);
        pages += need;
      }
      std::vector<std::int32_t> ids(static_cast<std::size_t>(pages));
      std::iota(ids.begin(), ids.end(), 0);
      std::shuffle(ids.begin(), ids.end(), rng());
      table_.assign(static_cast<std::size_t>(batch * max_blocks_), -1);
      std::size_t next = 0;
      for (std::int64_t b = 0; b < batch; ++b) {
        const int need = std::max(1, (spec.capacity[b] + spec.page_size - 1) / spec.page_size);
        for (int i = 0; i < need; ++i) table_[b * max_blocks_ + i] = ids[next++];
      }
      k_ = random_tensor(spec.dtype, {pages, spec.page_size, hkv, dim});
      v_ = random_tensor(spec.dtype, {pages, spec.page_size, hkv, dim});
    }
    upload();
  }

  // The same data in the other layout (paged <-> contiguous), for layout-equivalence checks.
  TestKvCache relayout(bool paged, int page_size) const {
    CacheSpec spec = spec_;
    spec.paged = paged;
    spec.page_size = page_size;
    TestKvCache other(spec);
    const ref::KvCacheView src = host(), dst = other.host();
    for (std::size_t b = 0; b < spec_.capacity.size(); ++b)
      for (std::int32_t s = 0; s < spec_.capacity[b]; ++s)
        for (int h = 0; h < spec_.num_kv_heads; ++h)
          for (int d = 0; d < spec_.head_dim; ++d) {
            const auto from = row_offset(src, b, s, h) + d, to = other.row_offset(dst, b, s, h) + d;
            store_f32(dst.k, to, load_f32(src.k, from));
            store_f32(dst.v, to, load_f32(src.v, from));
          }
    other.upload();
    return other;
  }

  ref::KvCacheView host() const {
    ref::KvCacheView c{k_.view(), v_.view()};
    c.paged = spec_.paged;
    if (spec_.paged) {
      c.page_size = spec_.page_size;
      c.block_table = table_;
      c.max_blocks_per_seq = max_blocks_;
    }
    return c;
  }

  cuda::KvCacheView device() const {
    return spec_.paged ? cuda::make_paged_kv_cache(dk_.view(), dv_.view(), dtable_.view())
                       : cuda::make_contiguous_kv_cache(dk_.view(), dv_.view());
  }

  // Host -> device copies of the whole cache (a paged cache's table too: tests may edit it).
  void upload() {
    dk_ = DeviceTensor::upload(k_.view());
    dv_ = DeviceTensor::upload(v_.view());
    if (spec_.paged) {
      HostTensor t(DType::i32, {static_cast<std::int64_t>(spec_.capacity.size()), max_blocks_});
      std::copy(table_.begin(), table_.end(), t.ptr<std::int32_t>());
      dtable_ = DeviceTensor::upload(t.view());
    }
  }
  // Device contents as host tensors (the host copy is left as is).
  std::pair<HostTensor, HostTensor> device_contents() const {
    const TensorView& kv = k_.view();
    HostTensor k(kv.dtype, {kv.dim(0), kv.dim(1), kv.dim(2), kv.dim(3)});
    HostTensor v(kv.dtype, {kv.dim(0), kv.dim(1), kv.dim(2), kv.dim(3)});
    dk_.download(k.view());
    dv_.download(v.view());
    return {std::move(k), std::move(v)};
  }

  const CacheSpec& spec() const { return spec_; }
  std::span<std::int32_t> table() { return table_; }
  int max_blocks() const { return max_blocks_; }

 private:
  std::int64_t row_offset(const ref::KvCacheView& c, std::size_t b, std::int32_t s, int h) const {
    if (!c.paged) return c.k.offset({static_cast<std::int64_t>(b), s, h, 0});
    const std::int32_t page = c.block_table[b * static_cast<std::size_t>(c.max_blocks_per_seq) +
                                            static_cast<std::size_t>(s / c.page_size)];
    return c.k.offset({page, s % c.page_size, h, 0});
  }

  CacheSpec spec_;
  HostTensor k_, v_;
  std::vector<std::int32_t> table_;
  int max_blocks_ = 0;
  DeviceTensor dk_, dv_, dtable_;
};

}  // namespace klab::test
