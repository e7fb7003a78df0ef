// The autotune shape buckets of the CUDA ops: one overload per argument type, registered by
// each family's registry.cpp with `reg.set_bucket(...)`. Header-only, on the public argument
// structs, so tests/registry checks them on machines without a GPU.
//
// What a bucket holds: the dims that pick the kernel. Model widths (hidden size, heads, head
// dim) are exact; what varies between calls of one model (tokens, batch, context, matrix
// sizes across layers) falls into power-of-two ranges (autotune::range).
#pragma once

#include <string>

#include "klab/autotune.hpp"
#include "klab/cuda/attention.hpp"
#include "klab/cuda/dequant.hpp"
#include "klab/cuda/elementwise.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/cuda/norm.hpp"
#include "klab/cuda/qkv.hpp"
#include "klab/cuda/rope.hpp"

namespace klab::cuda {

namespace tune_detail {

inline std::int64_t rows(const TensorView& t) {
  return t.rank >= 2 ? t.dim(0) : 1;
}
inline std::int64_t cols(const TensorView& t) {
  return t.rank >= 1 ? t.dim(t.rank - 1) : 0;
}
inline std::string cache_name(const KvCacheView& c) {
  return c.paged() ? "paged" + std::to_string(c.page_size) : "contiguous";
}
inline const char* epilogue_name(Epilogue e) {
  return e == Epilogue::swiglu ? "swiglu" : e == Epilogue::residual ? "residual" : "none";
}
// Rotated dims as the kernels resolve them (a table fixes them; 0 means the whole head).
inline std::int64_t rot_dim(const RopeFreqs& f, std::int64_t head_dim) {
  if (f.inv_freq.data && f.inv_freq.rank == 1) return 2 * f.inv_freq.dim(0);
  return f.rot_dim != 0 ? f.rot_dim : head_dim;
}
inline const char* style_name(RopeStyle s) {
  return s == RopeStyle::half_split ? "half_split" : "interleaved";
}
inline autotune::ShapeKey rows_key(const TensorView& x, const char* width) {
  return autotune::key(x.dtype, {{"T", autotune::range(rows(x))}, {width, cols(x)}});
}

}  // namespace tune_detail

// Norms: T = rows in a range, H exact.
inline autotune::ShapeKey tune_bucket(const RmsNormArgs& a) {
  return tune_detail::rows_key(a.x, "H");
}
inline autotune::ShapeKey tune_bucket(const AddRmsNormArgs& a) {
  return tune_detail::rows_key(a.x, "H");
}

// Elementwise: T = rows in a range, F exact.
inline autotune::ShapeKey tune_bucket(const SwigluArgs& a) {
  return tune_detail::rows_key(a.out, "F");
}
inline autotune::ShapeKey tune_bucket(const ResidualAddArgs& a) {
  return tune_detail::rows_key(a.out, "F");
}

// RoPE on [T, H, D].
inline autotune::ShapeKey tune_bucket(const RopeArgs& a) {
  const std::int64_t d = a.x.rank == 3 ? a.x.dim(2) : 0;
  return autotune::key(a.x.dtype, {{"T", autotune::range(a.x.rank ? a.x.dim(0) : 0)},
                                   {"H", a.x.rank == 3 ? a.x.dim(1) : 0},
                                   {"D", d},
                                   {"rot", tune_detail::rot_dim(a.freqs, d)},
                                   {"style", tune_detail::style_name(a.freqs.style)}});
}

// QKV split (+ RoPE, + KV-cache write): T in a range, the heads, the cache layout.
namespace tune_detail {
inline autotune::ShapeKey qkv_key(const TensorView& qkv, const TensorView& q, std::int64_t hkv,
                                  std::string rope, std::string cache) {
  return autotune::key(qkv.dtype, {{"T", autotune::range(rows(qkv))},
                                   {"Hq", q.rank == 3 ? q.dim(1) : 0},
                                   {"Hkv", hkv},
                                   {"D", q.rank == 3 ? q.dim(2) : 0},
                                   {"rope", std::move(rope)},
                                   {"cache", std::move(cache)}});
}
}  // namespace tune_detail
inline autotune::ShapeKey tune_bucket(const QkvSplitArgs& a) {
  return tune_detail::qkv_key(a.qkv, a.q, a.k.rank == 3 ? a.k.dim(1) : 0, "none", "none");
}
inline autotune::ShapeKey tune_bucket(const QkvSplitRopeArgs& a) {
  return tune_detail::qkv_key(a.qkv, a.q, a.k.rank == 3 ? a.k.dim(1) : 0,
                              tune_detail::style_name(a.freqs.style), "none");
}
inline autotune::ShapeKey tune_bucket(const QkvRopeKvWriteArgs& a) {
  return tune_detail::qkv_key(a.qkv, a.q, a.cache.num_kv_heads,
                              tune_detail::style_name(a.freqs.style),
                              tune_detail::cache_name(a.cache));
}

// GEMV / GEMM (one argument type): M, N, K in ranges, the epilogue; quantized weights name
// their format in the dtype ("q4_g32_sym/f16").
inline autotune::ShapeKey tune_bucket(const GemvArgs& a) {
  const std::string act(dtype_name(a.x.dtype));
  const bool shaped = a.x.rank == 2 && a.y.rank == 2;
  return autotune::key(a.w ? a.w->format().name() + "/" + act : act,
                       {{"M", autotune::range(shaped ? a.M() : 0)},
                        {"N", autotune::range(shaped ? a.N() : 0)},
                        {"K", autotune::range(shaped ? a.K() : 0)},
                        {"epilogue", tune_detail::epilogue_name(a.epilogue)}});
}

// Dequantization: the matrix size in ranges; dtype = format/output dtype.
inline autotune::ShapeKey tune_bucket(const DequantArgs& a) {
  if (!a.w) return {};
  return autotune::key(a.w->format().name() + "/" + std::string(dtype_name(a.out.dtype)),
                       {{"N", autotune::range(a.w->rows())}, {"K", autotune::range(a.w->cols())}});
}

// Decode attention. The lengths live on the device: the cache capacity stands in for the
// context (a contiguous cache of the run's context, or the paged table's reach).
inline autotune::ShapeKey tune_bucket(const DecodeAttnArgs& a) {
  const KvCacheView& c = a.cache;
  return autotune::key(c.dtype, {{"B", autotune::range(a.q.rank == 3 ? a.q.dim(0) : 0)},
                                 {"Hq", a.q.rank == 3 ? a.q.dim(1) : 0},
                                 {"Hkv", c.num_kv_heads},
                                 {"D", c.head_dim},
                                 {"cap", autotune::range(c.max_seq_len())},
                                 {"cache", tune_detail::cache_name(c)}});
}

// Prefill attention: batch and query length in ranges, heads, mask, K/V source.
inline autotune::ShapeKey tune_bucket(const PrefillAttnArgs& a) {
  const bool cached = a.cache.has_value();
  const DType dtype = cached ? a.cache->dtype : a.k.dtype;
  const std::int64_t hkv = cached ? a.cache->num_kv_heads : (a.k.rank == 3 ? a.k.dim(1) : 0);
  return autotune::key(dtype, {{"B", autotune::range(a.batch)},
                               {"S", autotune::range(a.max_q_len)},
                               {"Hq", a.q.rank == 3 ? a.q.dim(1) : 0},
                               {"Hkv", hkv},
                               {"D", a.q.rank == 3 ? a.q.dim(2) : 0},
                               {"mask", a.causal ? "causal" : "full"},
                               {"kv", cached ? tune_detail::cache_name(*a.cache) : "packed"}});
}

}  // namespace klab::cuda
