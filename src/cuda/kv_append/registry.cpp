// The kv_append op: argument checks, its variants and the entry point.
#include <limits>
#include <string>

#include "cuda/common/attn_checks.hpp"
#include "cuda/kv_append/kv_append_params.hpp"
#include "klab/cuda/attention.hpp"

namespace klab::cuda {

namespace {

using kv_append_detail::AppendParams;

AppendParams params_of(const KvAppendArgs& a) {
  AppendParams p;
  p.cache = a.cache;
  p.k_new = a.k_new.data;
  p.v_new = a.v_new.data;
  p.k_token_stride = a.k_new.stride[0];
  p.k_head_stride = a.k_new.stride[1];
  p.v_token_stride = a.v_new.stride[0];
  p.v_head_stride = a.v_new.stride[1];
  p.tokens = static_cast<int>(a.k_new.dim(0));
  p.seq = a.seq;
  p.pos = a.pos;
  p.dropped = a.dropped;
  return p;
}

registry::OpRegistry<KvAppendArgs> build() {
  registry::OpRegistry<KvAppendArgs> r("kv_append");
  r.add({"vec16", "a thread per 16-byte chunk of a (token, head) row; both cache layouts",
         [](const KvAppendArgs& a) { return kv_append_detail::vec16_supports(params_of(a)); },
         [](const KvAppendArgs& a, cudaStream_t s) {
           kv_append_detail::launch_vec16(params_of(a), s);
         }});
  r.add({"scalar", "a thread per element; any alignment (fallback)",
         [](const KvAppendArgs&) { return true; },
         [](const KvAppendArgs& a, cudaStream_t s) {
           kv_append_detail::launch_scalar(params_of(a), s);
         }});
  return r;
}

}  // namespace

void validate(const KvAppendArgs& a) {
  constexpr std::string_view op = "kv_append";
  attn_checks::expect_kv_cache(op, a.cache);
  attn_checks::expect_rows(op, "k_new", a.k_new, a.cache.dtype, a.cache.num_kv_heads,
                           a.cache.head_dim);
  attn_checks::expect_rows(op, "v_new", a.v_new, a.cache.dtype, a.cache.num_kv_heads,
                           a.cache.head_dim);
  expect_dim(op, "v_new", a.v_new, 0, a.k_new.dim(0));
  check_arg(a.k_new.dim(0) <= std::numeric_limits<int>::max(), op, "k_new", "too many tokens");
  check_arg(a.k_new.dim(0) == 0 || (a.seq != nullptr && a.pos != nullptr), op, "seq/pos",
            "expected device i32 arrays of " + std::to_string(a.k_new.dim(0)) + " entries");
}

const registry::OpRegistry<KvAppendArgs>& kv_append_registry() {
  static const registry::OpRegistry<KvAppendArgs> reg = build();
  return reg;
}

void kv_append(const KvAppendArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  kv_append_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
