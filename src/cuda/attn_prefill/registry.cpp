// The prefill_attention op: argument checks, its variants, the auto choice and the entry point.
#include <cmath>
#include <limits>
#include <string>

#include "cuda/attn_prefill/prefill_params.hpp"
#include "cuda/attn_prefill/wgmma_fa3.hpp"
#include "cuda/common/attn_checks.hpp"
#include "cuda/common/launch_util.hpp"
#include "klab/cuda/attention.hpp"
#include "registry/autotune_buckets.hpp"

namespace klab::cuda {

namespace {

prefill::PrefillParams params_of(const PrefillAttnArgs& a) {
  prefill::PrefillParams p;
  p.out = a.out.data;
  p.q = a.q.data;
  p.q_stride_t = a.q.stride[0];
  p.q_stride_h = a.q.stride[1];
  p.out_stride_t = a.out.stride[0];
  p.out_stride_h = a.out.stride[1];
  p.cu_q = a.cu_q;
  p.batch = a.batch;
  p.max_q_len = a.max_q_len;
  p.num_q_heads = static_cast<int>(a.q.dim(1));
  p.head_dim = static_cast<int>(a.q.dim(2));
  p.scale = a.scale;
  p.causal = a.causal;
  p.cached = a.cache.has_value();
  if (p.cached) {
    p.cache = *a.cache;
    p.kv_lens = a.kv_lens;
    p.num_kv_heads = a.cache->num_kv_heads;
    p.dtype = a.cache->dtype;
  } else {
    p.k = a.k.data;
    p.v = a.v.data;
    p.cu_k = a.cu_k;
    p.k_rows = a.k.dim(0);
    p.k_row_stride = a.k.stride[0];
    p.k_head_stride = a.k.stride[1];
    p.num_kv_heads = static_cast<int>(a.k.dim(1));
    p.dtype = a.k.dtype;
  }
  return p;
}

registry::OpRegistry<PrefillAttnArgs> build() {
  registry::OpRegistry<PrefillAttnArgs> r("prefill_attention");
  r.add({"naive_rows", "a warp per (query row, head); keys straight from memory, scalar f32",
         [](const PrefillAttnArgs& a) { return prefill::vectorizable(params_of(a)); },
         [](const PrefillAttnArgs& a, cudaStream_t s) {
           prefill::launch_naive_rows(params_of(a), s);
         }});
  r.add({"tiled", "32x32 Q/K/V smem tiles, scalar f32 math, online softmax",
         [](const PrefillAttnArgs& a) { return prefill::vectorizable(params_of(a)); },
         [](const PrefillAttnArgs& a, cudaStream_t s) { prefill::launch_tiled(params_of(a), s); }});
  r.add(
      {"mma_fa2",
       "FlashAttention-2: Q in registers, cp.async double-buffered K/V, ldmatrix + mma.sync "
       "m16n8k16, causal tile skip (head dim 64/128)",
       [](const PrefillAttnArgs& a) { return prefill::mma_fa2_supports(params_of(a)); },
       [](const PrefillAttnArgs& a, cudaStream_t s) { prefill::launch_mma_fa2(params_of(a), s); }});
  r.add({"mma_fa2_v2",
         "FlashAttention-2 with 32 query rows per warp (128 per block): each K/V fragment feeds "
         "two MMAs, Q fragments from shared memory, 32-key softmax rounds with lazy O rescale "
         "(head dim 64/128)",
         [](const PrefillAttnArgs& a) { return prefill::mma_fa2_supports(params_of(a)); },
         [](const PrefillAttnArgs& a, cudaStream_t s) {
           prefill::launch_mma_fa2_v2(params_of(a), s);
         }});
  r.add({"wgmma_fa3",
         "FlashAttention-3 style, sm_90a only: 2 warpgroups x 64 query rows, wgmma m64n128k16 "
         "with Q/K from 128B-swizzled smem, P in registers x MN-major V, softmax of tile j "
         "overlapping P V of tile j-1, cp.async K/V staging (head dim 64/128)",
         [](const PrefillAttnArgs& a) { return prefill::wgmma_fa3_supports(params_of(a)); },
         [](const PrefillAttnArgs& a, cudaStream_t s) {
           prefill::launch_wgmma_fa3(params_of(a), s);
         }});
  r.add({"wgmma_fa3_gqa",
         "wgmma_fa3 with GQA packing: a CTA's 128 query rows are (position, head) pairs of the "
         "up to 8 query heads sharing a KV head, so each K/V tile read from L2 feeds them all "
         "(head dim 64/128)",
         [](const PrefillAttnArgs& a) { return prefill::wgmma_fa3_supports(params_of(a)); },
         [](const PrefillAttnArgs& a, cudaStream_t s) {
           prefill::launch_wgmma_fa3_gqa(params_of(a), s);
         }});
  r.add({"wgmma_fa3_tma",
         "wgmma_fa3_gqa with full key tiles fetched by TMA (one thread, an mbarrier per stage, "
         "the warpgroups wait right before the wgmma that reads it); paged caches keep cp.async "
         "(head dim 64/128)",
         [](const PrefillAttnArgs& a) { return prefill::wgmma_fa3_supports(params_of(a)); },
         [](const PrefillAttnArgs& a, cudaStream_t s) {
           prefill::launch_wgmma_fa3_tma(params_of(a), s);
         }});
  // mma_fa2 beat mma_fa2_v2 on the H100 at S=8192 (bf16, 32/8 heads, d128: causal 2,077 vs
  // 2,436 us, full 3,925 vs 4,214 us), against v2's predictions: mma_fa2 stays the default.
  // H200, 2026-11-26, bf16 32/8 heads d128 S=8192 (us, causal / full): wgmma_fa3_tma 1,149 /
  // 2,230, wgmma_fa3_gqa 2,108 / 4,075, wgmma_fa3 2,216 / 4,263, mma_fa2 2,074 / 3,959. Off
  // sm_90a (or where the wgmma rungs decline a shape) mma_fa2 stays the choice.
  r.set_auto([](const PrefillAttnArgs& a) {
    return std::string(prefill::wgmma_fa3_supports(params_of(a)) ? "wgmma_fa3_tma" : "mma_fa2");
  });
  r.set_bucket([](const PrefillAttnArgs& a) { return tune_bucket(a); });  // autotune
  return r;
}

}  // namespace

namespace prefill {

bool vectorizable(const PrefillParams& p) {
  if (p.dtype != DType::f16 && p.dtype != DType::bf16) return false;
  if (p.head_dim != 64 && p.head_dim != 128 && p.head_dim != 256) return false;
  const std::int64_t strides[] = {p.q_stride_t,       p.q_stride_h,         p.out_stride_t,
                                  p.out_stride_h,     p.k_row_stride,       p.k_head_stride,
                                  p.cache.row_stride, p.cache.block_stride, p.cache.head_stride};
  for (std::int64_t s : strides)
    if (s % 8 != 0) return false;
  const void* k = p.cached ? p.cache.k : p.k;
  const void* v = p.cached ? p.cache.v : p.v;
  return is_aligned(p.q, 16) && is_aligned(p.out, 16) && is_aligned(k, 16) && is_aligned(v, 16);
}

}  // namespace prefill

void validate(const PrefillAttnArgs& a) {
  constexpr std::string_view op = "prefill_attention";
  check_arg(a.batch >= 1, op, "batch", "expected at least one sequence");
  check_arg(a.cu_q != nullptr, op, "cu_q", "expected a device i32 array of batch + 1 offsets");
  check_arg(a.max_q_len >= 0, op, "max_q_len", "expected >= 0");
  check_arg(std::isfinite(a.scale) && a.scale > 0.0f, op, "scale",
            "expected a finite value > 0, got " + std::to_string(a.scale));
  std::int64_t hkv = 0, dim = 0;
  DType dtype = DType::f16;
  if (a.cache) {
    attn_checks::expect_kv_cache(op, *a.cache);
    check_arg(a.kv_lens != nullptr, op, "kv_lens", "a cached source needs device lengths");
    check_arg(a.batch <= a.cache->num_seqs, op, "batch",
              "the cache addresses only " + std::to_string(a.cache->num_seqs) + " sequences");
    hkv = a.cache->num_kv_heads;
    dim = a.cache->head_dim;
    dtype = a.cache->dtype;
  } else {
    expect_rank(op, "k", a.k, 3);
    hkv = a.k.dim(1);
    dim = a.k.dim(2);
    dtype = a.k.dtype;
    attn_checks::expect_rows(op, "k", a.k, dtype, hkv, dim);
    attn_checks::expect_rows(op, "v", a.v, dtype, hkv, dim);
    expect_dim(op, "v", a.v, 0, a.k.dim(0));
    check_arg(a.v.stride[0] == a.k.stride[0] && a.v.stride[1] == a.k.stride[1], op, "v",
              "expected the strides of k");
    check_arg(a.cu_k != nullptr, op, "cu_k", "a packed source needs device key offsets");
    check_arg(a.k.dim(0) <= std::numeric_limits<int>::max(), op, "k", "too many key rows");
  }
  attn_checks::expect_half_dtype(op, "k", dtype);
  check_arg(hkv >= 1, op, "k", "expected at least one kv head");
  expect_rank(op, "q", a.q, 3);
  check_arg(a.q.dim(1) >= hkv && a.q.dim(1) % hkv == 0, op, "q",
            "expected a multiple of " + std::to_string(hkv) + " kv heads as query heads, got " +
                shape_str(a.q));
  attn_checks::expect_rows(op, "q", a.q, dtype, a.q.dim(1), dim);
  attn_checks::expect_rows(op, "out", a.out, dtype, a.q.dim(1), dim);
  expect_dim(op, "out", a.out, 0, a.q.dim(0));
  check_arg(a.q.dim(0) <= std::numeric_limits<int>::max(), op, "q", "too many query rows");
}

const registry::OpRegistry<PrefillAttnArgs>& prefill_attention_registry() {
  static const registry::OpRegistry<PrefillAttnArgs> reg = build();
  return reg;
}

void prefill_attention(const PrefillAttnArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  prefill_attention_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
