// The decode_attention op: argument checks, its variants, the auto choice and the entry point.
#include <cmath>
#include <string>
#include <string_view>

#include "cuda/attn_decode/decode_params.hpp"
#include "cuda/common/attn_checks.hpp"
#include "cuda/common/device_sm_count.hpp"
#include "cuda/common/env_switch.hpp"
#include "cuda/common/launch_util.hpp"
#include "klab/cuda/attention.hpp"
#include "registry/autotune_buckets.hpp"

namespace klab::cuda {

namespace {

decode::DecodeParams params_of(const DecodeAttnArgs& a) {
  decode::DecodeParams p;
  p.cache = a.cache;
  p.kv_lens = a.kv_lens;
  p.out = a.out.data;
  p.q = a.q.data;
  p.q_stride_b = a.q.stride[0];
  p.q_stride_h = a.q.stride[1];
  p.out_stride_b = a.out.stride[0];
  p.out_stride_h = a.out.stride[1];
  p.batch = static_cast<int>(a.q.dim(0));
  p.num_q_heads = static_cast<int>(a.q.dim(1));
  p.scale = a.scale;
  p.dtype = a.cache.dtype;
  p.indices_ready = a.indices_ready;
  // KLAB_CUDA_DECODE_EARLY_KV=0 (a study switch, read once) ignores history_ready.
  static const bool early_kv = !env_equals("KLAB_CUDA_DECODE_EARLY_KV", "0");
  p.history_ready = early_kv && a.indices_ready && a.history_ready;
  if (a.plan) {
    p.max_splits = a.plan->max_splits;
    p.chunk = a.plan->chunk;
    if (p.max_splits > 1 && a.workspace) {  // layout: decode_workspace_bytes
      p.counters = static_cast<unsigned*>(a.workspace);
      p.part_o = reinterpret_cast<float*>(static_cast<char*>(a.workspace) + decode::kCounterBytes);
      p.part_lse = p.part_o + std::int64_t{p.batch} * p.num_q_heads * p.max_splits * a.q.dim(2);
    }
  }
  return p;
}

// split_kv_mma_fused runs on the plan's fused partition (DecodePlan::fused_splits): its
// partials take the same workspace layout with that split count.
decode::DecodeParams fused_params_of(const DecodeAttnArgs& a) {
  decode::DecodeParams p = params_of(a);
  if (!a.plan) return p;
  p.max_splits = a.plan->fused_splits;
  p.chunk = a.plan->fused_chunk;
  p.sm_count = a.plan->sm_count > 0 ? a.plan->sm_count : device_sm_count();
  p.counters = nullptr;
  p.part_o = p.part_lse = nullptr;
  if (p.max_splits > 1 && a.workspace) {
    p.counters = static_cast<unsigned*>(a.workspace);
    p.part_o = reinterpret_cast<float*>(static_cast<char*>(a.workspace) + decode::kCounterBytes);
    p.part_lse = p.part_o + std::int64_t{p.batch} * p.num_q_heads * p.max_splits * a.q.dim(2);
  }
  return p;
}

// split_kv_mma_cluster[_w8|_s2|_spec] run on the plan's cluster partition: max_splits = the cluster
// size, chunk = the guess of the cut (a paged CTA's block-table window). No workspace.
decode::DecodeParams cluster_params_of(const DecodeAttnArgs& a) {
  decode::DecodeParams p = params_of(a);
  p.counters = nullptr;
  p.part_o = p.part_lse = nullptr;
  p.max_splits = a.plan ? a.plan->cluster_splits : 0;
  p.chunk = a.plan ? a.plan->cluster_chunk : 0;
  p.guess_len = a.plan ? a.plan->cluster_len : 0;
  return p;
}

bool has_split_plan(const DecodeAttnArgs& a) {
  return a.plan && (a.plan->max_splits <= 1 || a.workspace != nullptr);
}
bool has_fused_plan(const DecodeAttnArgs& a) {
  return a.plan && (a.plan->fused_splits <= 1 || a.workspace != nullptr);
}

registry::OpRegistry<DecodeAttnArgs> build() {
  registry::OpRegistry<DecodeAttnArgs> r("decode_attention");
  r.add({"block_per_head",
         "a block per (sequence, query head); warp-per-key dots, K/V read per query head",
         [](const DecodeAttnArgs& a) { return decode::block_per_head_supports(params_of(a)); },
         [](const DecodeAttnArgs& a, cudaStream_t s) {
           decode::launch_block_per_head(params_of(a), s);
         }});
  r.add({"tiled",
         "a block per (sequence, KV head, <=8 query heads); 3-stage cp.async K/V tiles, each KV "
         "row read once per group",
         [](const DecodeAttnArgs& a) { return decode::tile_supports(params_of(a)); },
         [](const DecodeAttnArgs& a, cudaStream_t s) { decode::launch_tiled(params_of(a), s); }});
  r.add(
      {"split_kv",
       "flash-decoding: tiled over plan_decode_attention's KV chunks + a combine kernel",
       [](const DecodeAttnArgs& a) {
         return has_split_plan(a) && decode::tile_supports(params_of(a));
       },
       [](const DecodeAttnArgs& a, cudaStream_t s) { decode::launch_split_kv(params_of(a), s); }});
  r.add(
      {"tiled_mma",
       "tensor-core rung over whole lengths: the group's query heads as mma.sync M rows, each "
       "warp streaming its own 16-key K/V tiles through a cp.async ring",
       [](const DecodeAttnArgs& a) { return decode::mma_supports(params_of(a)); },
       [](const DecodeAttnArgs& a, cudaStream_t s) { decode::launch_tiled_mma(params_of(a), s); }});
  r.add({"split_kv_mma",
         "flash-decoding on the tensor-core rung: tiled_mma over plan_decode_attention's chunks + "
         "a combine whose warps split the partials",
         [](const DecodeAttnArgs& a) {
           return has_split_plan(a) && decode::mma_supports(params_of(a));
         },
         [](const DecodeAttnArgs& a, cudaStream_t s) {
           decode::launch_split_kv_mma(params_of(a), s, false);
         }});
  r.add({"split_kv_mma_pdl",
         "split_kv_mma with programmatic dependent launch: each kernel's launch overlaps the "
         "previous kernel's tail",
         [](const DecodeAttnArgs& a) {
           return has_split_plan(a) && decode::mma_supports(params_of(a));
         },
         [](const DecodeAttnArgs& a, cudaStream_t s) {
           decode::launch_split_kv_mma(params_of(a), s, true);
         }});
  r.add({"split_kv_mma_onepass",
         "split_kv_mma_pdl whose combine issues every load (log-sum-exps and partial rows) before "
         "using any: one L2 round trip for up to 32 splits instead of three",
         [](const DecodeAttnArgs& a) {
           return has_split_plan(a) && decode::mma_supports(params_of(a));
         },
         [](const DecodeAttnArgs& a, cudaStream_t s) {
           decode::launch_split_kv_mma_onepass(params_of(a), s);
         }});
  r.add({"split_kv_mma_fused",
         "split_kv_mma_onepass in one launch: the last CTA of each (sequence, KV head) merges the "
         "partials (workspace arrival counters, reset by that CTA); its own cut from the actual "
         "lengths (about one CTA per SM, >= 64 keys each); paged block-table entries staged in "
         "shared memory per CTA, row addresses walked without divisions",
         [](const DecodeAttnArgs& a) {
           return has_fused_plan(a) && decode::fused_supports(fused_params_of(a));
         },
         [](const DecodeAttnArgs& a, cudaStream_t s) {
           decode::launch_split_kv_mma_fused(fused_params_of(a), s);
         }});
  struct ClusterVariant {
    const char* name;
    decode::ClusterCta cta;
    bool speculate;
    const char* description;
  };
  const ClusterVariant cluster_variants[] = {
      {"split_kv_mma_cluster", decode::ClusterCta::w4, false,
       "latency-first split-KV on sm_90: the splits of each (sequence, KV head tile) are one "
       "thread-block cluster (<= 16 CTAs of 4 warps) that merges through distributed shared "
       "memory and writes out (no partials, counters or workspace); length, Q and block-table "
       "window loaded together, rings of 4 tiles per warp (a B=1 S=4096 CTA issues every copy "
       "in its prologue)"},
      {"split_kv_mma_cluster_w8", decode::ClusterCta::w8, false,
       "split_kv_mma_cluster with 8 warps a CTA (rings of 3 tiles at D = 128): twice the warps "
       "issuing, half the tiles per warp"},
      {"split_kv_mma_cluster_s2", decode::ClusterCta::w4_s2, false,
       "split_kv_mma_cluster with 2-stage rings (~78 KiB at D = 128): two CTAs fit an SM, so a "
       "16-CTA cluster needs 8 SMs of a GPC"},
      {"split_kv_mma_cluster_spec", decode::ClusterCta::w8, true,
       "split_kv_mma_cluster_w8 whose copies for the plan's guessed cut are issued before the "
       "length arrives (a paged cache's rows through the global block table; rows past the "
       "length masked, V rows zeroed; re-issued when the cut differs, so best when the plan was "
       "made for the actual lengths)"},
      {"split_kv_mma_cluster_w4_spec", decode::ClusterCta::w4, true,
       "split_kv_mma_cluster_spec on split_kv_mma_cluster's CTA (4 warps, rings of 4 tiles): "
       "the speculative prologue with the deeper rings (H100: w4 streams long ranges faster, "
       "w8 + speculation starts sooner)"},
  };
  for (const ClusterVariant& v : cluster_variants) {
    const decode::ClusterCta cta = v.cta;
    const bool speculate = v.speculate;
    r.add({v.name, v.description,
           [cta](const DecodeAttnArgs& a) {
             return a.plan && decode::cluster_supports(cluster_params_of(a), cta);
           },
           [cta, speculate](const DecodeAttnArgs& a, cudaStream_t s) {
             decode::DecodeParams p = cluster_params_of(a);
             p.speculate = speculate;
             decode::launch_split_kv_mma_cluster(p, s, cta);
           }});
  }
  // The tensor-core rung when its alignment holds (it is memory-bound where the scalar tile
  // kernel is issue-bound), with PDL when split; else the scalar ladder.
  r.set_auto([](const DecodeAttnArgs& a) {
    const bool mma = decode::mma_supports(params_of(a));
    // H200, 2026-11-26 (call c5), bf16 32/8 heads d128, us: fused / cluster_s2 / cluster_spec.
    // Contiguous B=1 S=512 8.14 / 5.09 / 5.34, S=4096 11.38 / 10.29 / 9.83, S=16384 25.70 /
    // 24.93 / 26.72; B=8 S=4096 40.42 / 37.31 / 36.64; B=32 S=512 23.01 / 19.83 / 23.01.
    // Paged16 B=1 S=4096 13.07 / 12.03 / 12.06, B=8 S=4096 42.77 / 39.94 / 39.22, B=32 S=4096
    // 130.08 / 126.46 / 129.18. MHA 32/32 S=512: B=1 9.89 / 6.68 / 6.39, B=16 39.55 / 37.41 /
    // 39.94. So the clusters wherever the device launches them: _spec (8 warps, copies issued
    // before the length arrives) below 16 sequences, _s2 (two CTAs an SM) from 16; else the
    // fused last-CTA merge for paged caches and batches, onepass for one contiguous sequence.
    // H100, session 7 (call c8), bf16 d128, us, _spec / _s2 / _w4_spec: contiguous 32/8 heads
    // B=1 S=4096 10.26 / 10.96 / 12.24, S=8192 19.02 / 18.74 / 18.10, S=16384 31.94 / 32.67 /
    // 30.35, S=32768 54.27 / 55.90 / 51.12 (f16 alike); B=2 and B=4, S=4096..32768: _s2 2-7%
    // ahead of _spec (B=4 S=16384 104.67 / 98.69), MHA 32/32 B=1 and 4 too; B=8 all within 1%
    // (v2); paged16 B=1 _spec (S=16384 33.82 / 34.08 / 36.53). So also _s2 for 2..7 contiguous
    // sequences, and _w4_spec for one contiguous GQA sequence planned at >= 8192 keys (in the
    // engine the plan covers the whole context, so shorter actual lengths take it too).
    // H100, session 8 (call c8), end to end (klab bench e2e, tok/s, auto = _spec / _s2 forced):
    // in the engine, where the kernel runs with history_ready under PDL beside the GEMVs, one
    // sequence is faster on _s2 too: its ~78 KB CTA can be resident beside the QKV GEMV's last
    // blocks, _spec's ~197 KB needs a whole SM. Llama-2-7B Q4_0 B=1 ctx 512 485.9, 492.0 /
    // 495.5, 494.0; ctx 4096 378.8, 379.5 / 380.3, 377.5; Llama-3-8B Q4_0 ctx 512 447.1, 442.2 /
    // 451.7, 447.8; ctx 4096 410.1, 409.6 / 426.1, 426.3; Q8_0 326.5 / 330.9; F16 185.6 / 186.4.
    // (The engine serving several sequences sees its cache as paged, one page a sequence, so
    // those runs were on the paged path.) At B=4 in the engine _s2 measured 0.4-1.2% slower
    // (call v4: Q4_0 ctx 512 / 4096 1,198.0 / 680.5 against 1,202.5 / 689.1 in v3, Q8_0 871.8 /
    // 565.3 against 878.4 / 567.5). So _s2 for one sequence with history_ready, either layout,
    // except where _w4_spec takes one long contiguous sequence (not measured there in the
    // engine). H100, session 12 (calls c1, c2; bench, no PDL), paged16 B=1 32/8 heads, us,
    // _s2 / _spec: S=4096 11.82, 11.84, 12.08, 12.32, 12.05 / 12.10, 11.95, 12.16, 12.26, 12.50;
    // S=16384 33.98, 33.79 / 34.21, 33.79; MHA 32/32 S=512 7.98, 8.12, 8.03 / 8.70, 8.67, 8.58
    // (a paged cache could not speculate then, so _spec's 8 warps bought nothing there). So _s2
    // for one paged sequence too (until session 25, below). H200, session 31 (c10, c12):
    // _w4_spec no longer takes one long contiguous sequence. With the 8-warp CTA in clusters of
    // 8 (launch_cluster_size), _spec B=1 S=16384 22.3-22.5 us against _w4_spec's 26.6-27.0
    // (sessions 30-31, every card); the H100 comparison above predates that change and the
    // session 23-24 loop changes and was not repeated (no H100 lent since session 20).
    if (has_split_plan(a)) {
      if (!mma) return std::string("split_kv");
      const auto supported = [&](const char* name) {
        return decode_attention_registry().find(name)->supports(a);
      };
      const std::int64_t batch = a.q.dim(0);
      const bool contiguous = a.cache.block_table == nullptr;
      // H200, session 25 (c2, bench, indices_ready): once a paged cache speculates too, one
      // paged sequence is faster on _spec: paged16 B=1 S=4096 _spec 10.24 / 10.27 us against
      // _s2 10.82 / 10.64 (it was _s2 11.22 / 10.59 against _spec 10.54 / 10.46 before). So
      // _s2 for one sequence only with history_ready (the engine), either layout.
      const bool s2 =
          batch >= 16 || (contiguous && batch >= 2 && batch < 8) || (batch == 1 && a.history_ready);
      const char* cluster = s2 ? "split_kv_mma_cluster_s2" : "split_kv_mma_cluster_spec";
      for (const char* name : {cluster, "split_kv_mma_cluster_spec"})
        if (supported(name)) return std::string(name);
      return std::string((!contiguous || batch > 1) && supported("split_kv_mma_fused")
                             ? "split_kv_mma_fused"
                             : "split_kv_mma_onepass");
    }
    return std::string(mma ? "tiled_mma" : "tiled");
  });
  r.set_bucket([](const DecodeAttnArgs& a) { return tune_bucket(a); });  // autotune
  return r;
}

}  // namespace

void validate(const DecodeAttnArgs& a) {
  constexpr std::string_view op = "decode_attention";
  attn_checks::expect_kv_cache(op, a.cache);
  attn_checks::expect_half_dtype(op, "cache", a.cache.dtype);
  const std::int64_t hkv = a.cache.num_kv_heads, dim = a.cache.head_dim;
  expect_rank(op, "q", a.q, 3);
  check_arg(a.q.dim(1) >= hkv && a.q.dim(1) % hkv == 0, op, "q",
            "expected a multiple of " + std::to_string(hkv) + " kv heads as query heads, got " +
                shape_str(a.q));
  attn_checks::expect_rows(op, "q", a.q, a.cache.dtype, a.q.dim(1), dim);
  attn_checks::expect_rows(op, "out", a.out, a.cache.dtype, a.q.dim(1), dim);
  expect_dim(op, "out", a.out, 0, a.q.dim(0));
  check_arg(a.q.dim(0) >= 1 && a.q.dim(0) <= a.cache.num_seqs, op, "q",
            "expected 1.." + std::to_string(a.cache.num_seqs) + " sequences (the cache's), got " +
                shape_str(a.q));
  check_arg(a.kv_lens != nullptr, op, "kv_lens", "expected a device i32 array");
  check_arg(std::isfinite(a.scale) && a.scale > 0.0f, op, "scale",
            "expected a finite value > 0, got " + std::to_string(a.scale));
  if (a.plan) {
    const DecodePlan& pl = *a.plan;
    check_arg(pl.batch == a.q.dim(0) && pl.num_q_heads == a.q.dim(1) && pl.num_kv_heads == hkv &&
                  pl.head_dim == dim && pl.max_splits >= 1 && pl.max_splits <= decode::kMaxSplits &&
                  pl.fused_splits >= 1 && pl.fused_splits <= decode::kMaxSplits &&
                  pl.cluster_splits >= 0 && pl.cluster_splits <= decode::kClusterMaxSplits,
              op, "plan", "was made for other shapes; call plan_decode_attention again");
    if (pl.max_splits > 1 || pl.fused_splits > 1)
      check_arg(a.workspace != nullptr && is_aligned(a.workspace, 16), op, "workspace",
                "expected a 16-byte aligned device buffer of " +
                    std::to_string(pl.workspace_bytes) + " bytes");
  }
}

const registry::OpRegistry<DecodeAttnArgs>& decode_attention_registry() {
  static const registry::OpRegistry<DecodeAttnArgs> reg = build();
  return reg;
}

void decode_attention(const DecodeAttnArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  decode_attention_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
