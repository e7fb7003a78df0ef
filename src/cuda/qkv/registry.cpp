// The QKV family (split; split + RoPE; split + RoPE + KV-cache write): argument checks, the
// variant ladder and the auto choice.
#include <string>
#include <utility>

#include "cuda/common/launch_util.hpp"
#include "cuda/common/rope_check.hpp"
#include "cuda/qkv/qkv_params.hpp"
#include "klab/cuda/qkv.hpp"
#include "registry/autotune_buckets.hpp"

namespace klab::cuda {

namespace {

using qkv::QkvMode;
using qkv::QkvParams;

struct Dims {
  std::int64_t tokens, hq, hkv, d;
};

std::pair<const char*, const char*> extent(const TensorView& t) {
  const auto* begin = static_cast<const char*>(t.data);
  std::int64_t last = 0;
  for (int i = 0; i < t.rank; ++i) {
    if (t.dim(i) == 0) return {begin, begin};
    last += (t.dim(i) - 1) * t.stride[i];
  }
  return {begin, begin + (last + 1) * static_cast<std::int64_t>(dtype_size(t.dtype))};
}

void check_disjoint(std::string_view op, std::string_view arg, const TensorView& out,
                    const TensorView& in) {
  const auto [a0, a1] = extent(out);
  const auto [b0, b1] = extent(in);
  check_arg(a1 <= b0 || b1 <= a0, op, arg, "must not overlap 'qkv'");
}

// qkv and q fix T, Hq, D and the dtype; the caller supplies Hkv.
void check_qkv(std::string_view op, const TensorView& qkv, const TensorView& q, std::int64_t hkv) {
  expect_rank(op, "qkv", qkv, 2);
  expect_device(op, "qkv", qkv, Device::cuda);
  expect_float_dtype(op, "qkv", qkv);
  check_arg(qkv.stride[1] == 1, op, "qkv", "expected a unit inner stride");
  check_arg(qkv.dim(0) <= 1 || qkv.stride[0] >= qkv.dim(1), op, "qkv",
            "rows overlap (stride < row length)");
  check_arg(qkv.dim(0) <= 0x7fffffff, op, "qkv", "too many tokens: " + shape_str(qkv));
  expect_rank(op, "q", q, 3);
  const std::int64_t hq = q.dim(1), d = q.dim(2);
  check_arg(hq >= 1 && d >= 1, op, "q", "expected Hq, D >= 1, got " + shape_str(q));
  check_arg(hkv >= 1 && hq % hkv == 0, op, "k",
            "expected kv heads dividing " + std::to_string(hq) + " query heads, got " +
                std::to_string(hkv));
  check_arg(qkv.dim(1) == (hq + 2 * hkv) * d, op, "qkv",
            "expected " + std::to_string((hq + 2 * hkv) * d) + " columns ((Hq + 2*Hkv) * D), got " +
                shape_str(qkv));
}

void check_heads(std::string_view op, std::string_view arg, const TensorView& t,
                 const TensorView& qkv, std::int64_t heads, std::int64_t d) {
  expect_rank(op, arg, t, 3);
  expect_device(op, arg, t, Device::cuda);
  expect_dtype(op, arg, t, qkv.dtype);
  check_arg(t.dim(0) == qkv.dim(0) && t.dim(1) == heads && t.dim(2) == d, op, arg,
            "expected shape [" + std::to_string(qkv.dim(0)) + ", " + std::to_string(heads) + ", " +
                std::to_string(d) + "], got " + shape_str(t));
  check_arg(t.stride[2] == 1 && (heads == 1 || t.stride[1] == d), op, arg,
            "expected packed heads (strides [*, D, 1])");
  check_arg(t.dim(0) <= 1 || t.stride[0] >= heads * d, op, arg,
            "tokens overlap (token stride < H * D)");
  check_disjoint(op, arg, t, qkv);
}

void check_split(std::string_view op, const TensorView& q, const TensorView& k, const TensorView& v,
                 const TensorView& qkv) {
  expect_rank(op, "k", k, 3);
  check_qkv(op, qkv, q, k.dim(1));
  check_heads(op, "q", q, qkv, q.dim(1), q.dim(2));
  check_heads(op, "k", k, qkv, k.dim(1), q.dim(2));
  check_heads(op, "v", v, qkv, k.dim(1), q.dim(2));
}

QkvParams split_params(const TensorView& q, const TensorView& k, const TensorView& v,
                       const TensorView& qkv) {
  QkvParams p;
  p.mode = QkvMode::split;
  p.qkv = qkv.data;
  p.qkv_stride = qkv.stride[0];
  p.q = q.data;
  p.q_stride = q.stride[0];
  p.k = k.data;
  p.k_stride = k.stride[0];
  p.v = v.data;
  p.v_stride = v.stride[0];
  p.tokens = qkv.dim(0);
  p.hq = static_cast<int>(q.dim(1));
  p.hkv = static_cast<int>(k.dim(1));
  p.head_dim = static_cast<int>(q.dim(2));
  p.dtype = qkv.dtype;
  return p;
}

void set_rope(QkvParams& p, std::string_view op, const TensorView& positions,
              const RopeFreqs& freqs) {
  p.positions = positions.ptr<const std::int32_t>();
  p.inv_freq = static_cast<const float*>(freqs.inv_freq.data);
  p.theta = freqs.theta;
  p.rot_dim = resolve_rot_dim(op, freqs, p.head_dim);
  p.half_split = freqs.style == RopeStyle::half_split;
}

QkvParams params_of(const QkvSplitArgs& a) {
  return split_params(a.q, a.k, a.v, a.qkv);
}

QkvParams params_of(const QkvSplitRopeArgs& a) {
  QkvParams p = split_params(a.q, a.k, a.v, a.qkv);
  p.mode = QkvMode::split_rope;
  set_rope(p, "qkv_split_rope", a.positions, a.freqs);
  return p;
}

QkvParams params_of(const QkvRopeKvWriteArgs& a) {
  QkvParams p;
  p.mode = QkvMode::rope_cache;
  p.qkv = a.qkv.data;
  p.qkv_stride = a.qkv.stride[0];
  p.q = a.q.data;
  p.q_stride = a.q.stride[0];
  p.cache = a.cache;
  p.seq_ids = a.seq_ids.ptr<const std::int32_t>();
  p.tokens = a.qkv.dim(0);
  p.hq = static_cast<int>(a.q.dim(1));
  p.hkv = a.cache.num_kv_heads;
  p.head_dim = static_cast<int>(a.q.dim(2));
  p.dtype = a.qkv.dtype;
  p.pdl = a.pdl;
  set_rope(p, "qkv_rope_kv_write", a.positions, a.freqs);
  return p;
}

struct Rung {
  const char* name;
  const char* description;
  bool (*supports)(const QkvParams&);
  void (*launch)(const QkvParams&, cudaStream_t);
};

bool always(const QkvParams&) {
  return true;
}

constexpr Rung kLadder[] = {
    {"naive", "thread per output element, scalar, own sin/cos", always, qkv::launch_naive},
    {"vec16", "thread per 16-byte unit, sin/cos per pair", qkv::vectorizable, qkv::launch_vec16},
    {"token_per_block", "block per token, sin/cos once per token in shared memory, 16-byte units",
     qkv::vectorizable, qkv::launch_token_per_block},
    {"token_split",
     "a token over a row of blocks, one 16-byte unit per thread, sin/cos per block; few tokens",
     qkv::token_split_fits, qkv::launch_token_split},
};

// Up to this many tokens `auto` spreads each token over several blocks (token_split): a
// decode step's one block per token would walk its ~1000 items (Llama-2-7B) serially.
// Beyond it (prefill) a block per token already fills the GPU and computes each token's
// sin/cos once. H200, 2026-11-26 (D=128, 32/8 heads, page 16): T=1 token_split 4.0 us against
// 7.74 for token_per_block (decode-step ncu). T=32 (quick suite): 5.45 us token_per_block,
// token_split 1.33x slower in the first run, whose paged pool spread 32 tokens over 8000 pages;
// with a pool of the pages written (call c7, autotune --check) token_split 3.47 us, 1.56x
// faster. So token_split up to 32 tokens; the crossover above it is not measured, and autotune
// (klab autotune) overrides it.
constexpr std::int64_t kTokenSplitMaxTokens = 32;

std::string auto_choice(const QkvParams& p) {
  if (!qkv::vectorizable(p)) return "naive";
  return p.tokens <= kTokenSplitMaxTokens && qkv::token_split_fits(p) ? "token_split"
                                                                      : "token_per_block";
}

template <class Args>
registry::OpRegistry<Args> build(std::string op) {
  registry::OpRegistry<Args> reg(std::move(op));
  for (const Rung& r : kLadder) {
    reg.add({.name = r.name,
             .description = r.description,
             .supports = [s = r.supports](const Args& a) { return s(params_of(a)); },
             .launch =
                 [l = r.launch](const Args& a, cudaStream_t stream) {
                   validate(a);
                   l(params_of(a), stream);
                 }});
  }
  reg.set_auto([](const Args& a) { return auto_choice(params_of(a)); });
  reg.set_bucket([](const Args& a) { return tune_bucket(a); });  // autotune (klab/autotune.hpp)
  return reg;
}

}  // namespace

bool qkv::vectorizable(const QkvParams& p) {
  const std::int64_t vec = 16 / static_cast<std::int64_t>(dtype_size(p.dtype));
  const bool rope = p.mode != QkvMode::split;
  bool ok = p.head_dim % vec == 0 && p.qkv_stride % vec == 0 && p.q_stride % vec == 0 &&
            is_aligned(p.qkv, 16) && is_aligned(p.q, 16);
  if (rope) ok = ok && (p.half_split ? (p.rot_dim / 2) % vec : p.rot_dim % vec) == 0;
  if (p.mode == QkvMode::rope_cache) {
    const KvCacheView& c = p.cache;
    ok = ok && c.block_stride % vec == 0 && c.row_stride % vec == 0 && c.head_stride % vec == 0 &&
         is_aligned(c.k, 16) && is_aligned(c.v, 16);
  } else {
    ok = ok && p.k_stride % vec == 0 && p.v_stride % vec == 0 && is_aligned(p.k, 16) &&
         is_aligned(p.v, 16);
  }
  return ok;
}

void validate(const QkvSplitArgs& a) {
  check_split("qkv_split", a.q, a.k, a.v, a.qkv);
}

void validate(const QkvSplitRopeArgs& a) {
  constexpr std::string_view op = "qkv_split_rope";
  check_split(op, a.q, a.k, a.v, a.qkv);
  check_index_array(op, "positions", a.positions, a.qkv.dim(0));
  resolve_rot_dim(op, a.freqs, a.q.dim(2));
}

void validate(const QkvRopeKvWriteArgs& a) {
  constexpr std::string_view op = "qkv_rope_kv_write";
  const KvCacheView& c = a.cache;
  check_arg(c.k && c.v, op, "cache", "expected k and v pointers");
  check_arg(c.num_kv_heads >= 1 && c.head_dim >= 1 && c.page_size >= 1 && c.num_blocks >= 1 &&
                c.num_seqs >= 0,
            op, "cache", "expected a non-empty cache (use make_*_kv_cache)");
  check_arg(!c.paged() || (c.block_table && c.max_blocks_per_seq >= 1), op, "cache",
            "a paged cache needs a block table");
  check_qkv(op, a.qkv, a.q, c.num_kv_heads);
  check_heads(op, "q", a.q, a.qkv, a.q.dim(1), a.q.dim(2));
  check_arg(c.dtype == a.qkv.dtype, op, "cache",
            "expected dtype " + std::string(dtype_name(a.qkv.dtype)) + ", got " +
                std::string(dtype_name(c.dtype)));
  check_arg(
      c.head_dim == a.q.dim(2), op, "cache",
      "head dim " + std::to_string(c.head_dim) + " differs from q's " + std::to_string(a.q.dim(2)));
  check_index_array(op, "positions", a.positions, a.qkv.dim(0));
  check_index_array(op, "seq_ids", a.seq_ids, a.qkv.dim(0));
  resolve_rot_dim(op, a.freqs, a.q.dim(2));
}

const registry::OpRegistry<QkvSplitArgs>& qkv_split_registry() {
  static const auto reg = build<QkvSplitArgs>("qkv_split");
  return reg;
}

const registry::OpRegistry<QkvSplitRopeArgs>& qkv_split_rope_registry() {
  static const auto reg = build<QkvSplitRopeArgs>("qkv_split_rope");
  return reg;
}

const registry::OpRegistry<QkvRopeKvWriteArgs>& qkv_rope_kv_write_registry() {
  static const auto reg = build<QkvRopeKvWriteArgs>("qkv_rope_kv_write");
  return reg;
}

void qkv_split(const QkvSplitArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  qkv_split_registry().run(args, stream, variant);
}

void qkv_split_rope(const QkvSplitRopeArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  qkv_split_rope_registry().run(args, stream, variant);
}

void qkv_rope_kv_write(const QkvRopeKvWriteArgs& args, cudaStream_t stream,
                       std::string_view variant) {
  validate(args);
  qkv_rope_kv_write_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
