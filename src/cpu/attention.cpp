// Causal attention over one layer's contiguous KV cache (f32 or f16), one task per
// (query token, query head). Scores for all visible keys are kept, then softmax, then the
// weighted sum of values: two passes over the cache, no online rescaling needed.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "klab/cpu_matmul.hpp"
#include "klab/cpu_ops.hpp"
#include "klab/error.hpp"

namespace klab::cpu {
namespace {

// ---- portable row helpers -------------------------------------------------------------------
float load(const float* p, std::int64_t i) {
  return p[i];
}
float load(const std::uint16_t* p, std::int64_t i) {
  return f16_bits_to_f32(p[i]);
}

template <class T>
float dot_scalar(const float* q, const T* k, std::int64_t d) {
  float s = 0;
  for (std::int64_t i = 0; i < d; ++i) s += q[i] * load(k, i);
  return s;
}

template <class T>
void axpy_scalar(float* acc, float p, const T* v, std::int64_t d) {
  for (std::int64_t i = 0; i < d; ++i) acc[i] += p * load(v, i);
}

#if defined(__x86_64__)
// ---- AVX2 row helpers -----------------------------------------------------------------------
[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline __m256 load8(const float* p) {
  return _mm256_loadu_ps(p);
}
[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline __m256 load8(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

template <class T>
[[gnu::target("avx2,fma,f16c")]] float dot_avx2(const float* q, const T* k, std::int64_t d) {
  __m256 acc = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 8 <= d; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(k + i), acc);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  float sum = _mm_cvtss_f32(s);
  for (; i < d; ++i) sum += q[i] * load(k, i);
  return sum;
}

template <class T>
[[gnu::target("avx2,fma,f16c")]] void axpy_avx2(float* acc, float p, const T* v, std::int64_t d) {
  const __m256 pv = _mm256_set1_ps(p);
  std::int64_t i = 0;
  for (; i + 8 <= d; i += 8)
    _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(pv, load8(v + i), _mm256_loadu_ps(acc + i)));
  for (; i < d; ++i) acc[i] += p * load(v, i);
}
#endif

template <class T>
struct RowOps {
  float (*dot)(const float*, const T*, std::int64_t);
  void (*axpy)(float*, float, const T*, std::int64_t);
};

template <class T>
RowOps<T> row_ops() {
#if defined(__x86_64__)
  if (best_isa() == Isa::avx2) return {dot_avx2<T>, axpy_avx2<T>};
#endif
  return {dot_scalar<T>, axpy_scalar<T>};
}

template <class T>
void attend_one(float* out, const float* q, const T* k, const T* v, std::int64_t n_keys,
                std::int64_t kv_row, std::int64_t d, float scale, const RowOps<T>& ops) {
  thread_local std::vector<float> scores;
  scores.resize(static_cast<std::size_t>(n_keys));
  float max_score = -INFINITY;
  for (std::int64_t j = 0; j < n_keys; ++j) {
    scores[j] = scale * ops.dot(q, k + j * kv_row, d);
    max_score = std::max(max_score, scores[j]);
  }
  float sum = 0;
  for (std::int64_t j = 0; j < n_keys; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  std::fill(out, out + d, 0.0f);
  const float inv_sum = 1.0f / sum;
  for (std::int64_t j = 0; j < n_keys; ++j) ops.axpy(out, scores[j] * inv_sum, v + j * kv_row, d);
}

template <class T>
void attention_typed(const TensorView& out, const TensorView& q, const KvLayer& cache,
                     std::int64_t pos0, float scale, ThreadPool& pool) {
  const std::int64_t tokens = q.dim(0), q_heads = q.dim(1), d = q.dim(2);
  const std::int64_t group = q_heads / cache.kv_heads();
  const std::int64_t kv_row = cache.kv_heads() * d;  // elements between consecutive positions
  const auto* k = static_cast<const T*>(cache.k.data);
  const auto* v = static_cast<const T*>(cache.v.data);
  const RowOps<T> ops = row_ops<T>();
  const auto one_task = [&](std::int64_t task) {
    const std::int64_t t = task / q_heads, h = task % q_heads;
    const std::int64_t kv_head = h / group;
    attend_one(out.ptr<float>() + (t * q_heads + h) * d, q.ptr<float>() + t * q.stride[0] + h * d,
               k + kv_head * d, v + kv_head * d, pos0 + t + 1, kv_row, d, scale, ops);
  };
  // Short contexts in decode are cheaper to do here than to hand out to the pool.
  constexpr std::int64_t kSerialMacs = 64 * 1024;
  const std::int64_t macs = tokens * q_heads * (pos0 + tokens) * d;
  if (macs <= kSerialMacs) {
    for (std::int64_t task = 0; task < tokens * q_heads; ++task) one_task(task);
  } else {
    pool.run(tokens * q_heads, one_task);
  }
}

void expect_cache(std::string_view op, const KvLayer& cache) {
  expect_rank(op, "cache.k", cache.k, 3);
  expect_contiguous(op, "cache.k", cache.k);
  expect_contiguous(op, "cache.v", cache.v);
  check_arg(cache.k.dtype == DType::f32 || cache.k.dtype == DType::f16, op, "cache.k",
            "dtype must be f32 or f16, got " + std::string(dtype_name(cache.k.dtype)));
  expect_dtype(op, "cache.v", cache.v, cache.k.dtype);
  expect_shape(op, "cache.v", cache.v, {cache.k.dim(0), cache.k.dim(1), cache.k.dim(2)});
}

void expect_heads(std::string_view op, std::string_view arg, const TensorView& t,
                  std::int64_t heads, std::int64_t head_dim) {
  expect_dtype(op, arg, t, DType::f32);
  expect_rank(op, arg, t, 3);
  check_arg(t.stride[2] == 1 && t.stride[1] == t.dim(2), op, arg, "heads must be contiguous");
  if (heads > 0) expect_dim(op, arg, t, 1, heads);
  expect_dim(op, arg, t, 2, head_dim);
}

template <class T>
void store_rows(const TensorView& dst, const TensorView& src, std::int64_t pos0) {
  const std::int64_t row = src.dim(1) * src.dim(2);
  for (std::int64_t t = 0; t < src.dim(0); ++t) {
    const float* s = src.ptr<float>() + t * src.stride[0];
    T* out = static_cast<T*>(dst.data) + (pos0 + t) * row;
    for (std::int64_t i = 0; i < row; ++i) {
      if constexpr (std::is_same_v<T, float>)
        out[i] = s[i];
      else
        out[i] = f32_to_f16_bits(s[i]);
    }
  }
}

}  // namespace

void kv_store(const KvLayer& cache, const TensorView& k_new, const TensorView& v_new,
              std::int64_t pos0) {
  constexpr std::string_view op = "cpu::kv_store";
  expect_cache(op, cache);
  expect_heads(op, "k_new", k_new, cache.kv_heads(), cache.head_dim());
  expect_heads(op, "v_new", v_new, cache.kv_heads(), cache.head_dim());
  expect_dim(op, "v_new", v_new, 0, k_new.dim(0));
  check_arg(pos0 >= 0 && pos0 + k_new.dim(0) <= cache.capacity(), op, "pos0",
            "positions [" + std::to_string(pos0) + ", " + std::to_string(pos0 + k_new.dim(0)) +
                ") exceed the cache capacity of " + std::to_string(cache.capacity()));
  if (cache.k.dtype == DType::f32) {
    store_rows<float>(cache.k, k_new, pos0);
    store_rows<float>(cache.v, v_new, pos0);
  } else {
    store_rows<std::uint16_t>(cache.k, k_new, pos0);
    store_rows<std::uint16_t>(cache.v, v_new, pos0);
  }
}

void attention(const TensorView& out, const TensorView& q, const KvLayer& cache, std::int64_t pos0,
               float scale, ThreadPool& pool) {
  constexpr std::string_view op = "cpu::attention";
  expect_cache(op, cache);
  expect_heads(op, "q", q, 0, cache.head_dim());
  check_arg(q.dim(1) % cache.kv_heads() == 0, op, "q",
            std::to_string(q.dim(1)) + " query heads are not a multiple of " +
                std::to_string(cache.kv_heads()) + " kv heads");
  expect_dtype(op, "out", out, DType::f32);
  expect_shape(op, "out", out, {q.dim(0), q.dim(1), q.dim(2)});
  expect_contiguous(op, "out", out);
  check_arg(pos0 >= 0 && pos0 + q.dim(0) <= cache.capacity(), op, "pos0",
            "positions [" + std::to_string(pos0) + ", " + std::to_string(pos0 + q.dim(0)) +
                ") exceed the cache capacity of " + std::to_string(cache.capacity()));
  if (cache.k.dtype == DType::f32)
    attention_typed<float>(out, q, cache, pos0, scale, pool);
  else
    attention_typed<std::uint16_t>(out, q, cache, pos0, scale, pool);
}

}  // namespace klab::cpu
