// The fused decode family: argument checks, launch geometry (tiles, K split, clusters, staged
// shared memory), the variant ladder (unfused -> mma -> mma_split_k) and the entry points.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <utility>

#include "cuda/common/launch_util.hpp"
#include "cuda/common/rope_check.hpp"
#include "cuda/fused_decode/fused_params.hpp"
#include "cuda/fused_decode/staged.hpp"
#include "cuda/fused_decode/unfused.hpp"
#include "klab/cuda/fused_decode.hpp"

namespace klab::cuda {

namespace {

using fused::FusedMode;
using fused::FusedParams;

// ---- argument checks ---------------------------------------------------------------------

void check_tokens(std::string_view op, std::string_view arg, std::int64_t M,
                  int max_tokens = kGemvMaxM) {
  check_arg(M >= 1 && M <= max_tokens, op, arg,
            "expected 1.." + std::to_string(max_tokens) + " tokens, got " + std::to_string(M));
}

// A device matrix [rows, cols] of `dtype`: contiguous, or (free_rows) with any row stride.
void check_matrix(std::string_view op, std::string_view arg, const TensorView& t, DType dtype,
                  std::int64_t rows, std::int64_t cols, bool free_rows = false) {
  expect_rank(op, arg, t, 2);
  expect_device(op, arg, t, Device::cuda);
  expect_dtype(op, arg, t, dtype);
  expect_nonnull(op, arg, t);
  check_arg(
      t.dim(0) == rows && t.dim(1) == cols, op, arg,
      "expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "], got " + shape_str(t));
  if (!free_rows) return expect_contiguous(op, arg, t);
  check_arg(t.stride[1] == 1 || cols <= 1, op, arg, "expected a unit inner stride");
  check_arg(rows <= 1 || t.stride[0] >= cols, op, arg, "rows overlap (stride < K)");
}

void check_norm(std::string_view op, const RmsNormPrologue& n, std::int64_t M) {
  expect_rank(op, "norm.x", n.x, 2);
  const std::int64_t K = n.x.dim(1);
  check_arg(K >= 1 && K <= (std::int64_t{1} << 30), op, "norm.x",
            "expected 1..2^30 columns, got " + shape_str(n.x));
  check_matrix(op, "norm.x", n.x, DType::f32, M, K, true);
  expect_rank(op, "norm.weight", n.weight, 1);
  expect_device(op, "norm.weight", n.weight, Device::cuda);
  expect_dtype(op, "norm.weight", n.weight, DType::f32);
  expect_nonnull(op, "norm.weight", n.weight);
  expect_contiguous(op, "norm.weight", n.weight);
  expect_dim(op, "norm.weight", n.weight, 0, K);
  check_arg(std::isfinite(n.eps) && n.eps > 0.0f, op, "norm.eps",
            "expected a finite value > 0, got " + std::to_string(n.eps));
}

void check_quant(std::string_view op, std::string_view arg, const DeviceQuantMatrix& w,
                 std::int64_t N, std::int64_t K) {
  check_arg(w.rows() == N && w.cols() == K, op, arg,
            "expected a [" + std::to_string(N) + ", " + std::to_string(K) + "] matrix, got [" +
                std::to_string(w.rows()) + ", " + std::to_string(w.cols()) + "]");
  check_arg(w.has_plain() || w.has_tiled(), op, arg, "no layout uploaded");
}

// Exactly one of w / w_dense, [N, K]; the up projection exactly when `swiglu`.
void check_weights(std::string_view op, const FusedWeights& w, std::int64_t N, std::int64_t K,
                   bool swiglu) {
  check_arg((w.w != nullptr) != (w.w_dense.data != nullptr), op, "weights",
            "exactly one of 'w' (quantized) and 'w_dense' must be given");
  if (w.w) {
    check_quant(op, "w", *w.w, N, K);
    check_arg(w.w_dense_up.data == nullptr, op, "w_dense_up", "given with quantized weights");
    check_arg(swiglu == (w.w_up != nullptr), op, "w_up",
              swiglu ? "required by the swiglu epilogue" : "only used by the swiglu epilogue");
    if (!w.w_up) return;
    check_quant(op, "w_up", *w.w_up, N, K);
    check_arg(w.w_up->format() == w.w->format(), op, "w_up",
              "format " + w.w_up->format().name() + " differs from w's " + w.w->format().name());
    check_arg(w.w_up->has_plain() == w.w->has_plain() && w.w_up->has_tiled() == w.w->has_tiled(),
              op, "w_up", "uploaded layouts differ from w's");
    return;
  }
  check_arg(w.w_up == nullptr, op, "w_up", "given with dense weights");
  check_matrix(op, "w_dense", w.w_dense, DType::f16, N, K);
  check_arg(swiglu == (w.w_dense_up.data != nullptr), op, "w_dense_up",
            swiglu ? "required by the swiglu epilogue" : "only used by the swiglu epilogue");
  if (swiglu) check_matrix(op, "w_dense_up", w.w_dense_up, DType::f16, N, K);
}

std::int64_t qkv_rows(const FusedNormQkvArgs& a) {
  return (a.q.dim(1) + 2 * std::int64_t{a.cache.num_kv_heads}) * a.q.dim(2);
}

// ---- launch geometry ---------------------------------------------------------------------

struct DeviceLimits {
  int sms = 132;
  std::size_t max_dynamic_smem = 200 * 1024;
};

// The current device's SM count and the dynamic shared memory a block may opt into, less the
// kernel's static shared memory (at most ~6 KB) and a margin.
const DeviceLimits& device_limits() {
  static const DeviceLimits limits = [] {
    DeviceLimits l;
    int device = 0, sms = 0, optin = 0;
    if (cudaGetDevice(&device) == cudaSuccess &&
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) == cudaSuccess &&
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) ==
            cudaSuccess) {
      l.sms = sms;
      l.max_dynamic_smem = static_cast<std::size_t>(std::max(0, optin - 8 * 1024));
    } else {
      (void)cudaGetLastError();  // no device: the defaults only feed supports()
    }
    return l;
  }();
  return limits;
}

// Weights and K of a projection as the kernels see them; bits 0 when the fused kernels cannot
// read them (quantized without the tiled layout, unaligned dense rows).
void set_weights(FusedParams& p, const FusedWeights& w, std::int64_t K) {
  p.K = K;
  if (w.w) {
    if (!w.w->has_tiled() || (w.w_up && !w.w_up->has_tiled())) return void(p.bits = 0);
    p.tw = w.w->tiled();
    if (w.w_up) p.tw_up = w.w_up->tiled();
    p.bits = w.w->format().bits;
    p.group_shift = std::countr_zero(static_cast<unsigned>(w.w->format().group));
    p.zero_point = quant_zero_point(w.w->format());
    p.chunks = p.tw.chunks();
  } else {
    const bool aligned = is_aligned(w.w_dense.data, 16) && is_aligned(w.w_dense_up.data, 16);
    p.bits = aligned ? fused::kDenseBits : 0;
    p.wd = w.w_dense.data;
    p.wd_up = w.w_dense_up.data;
    p.chunks = ceil_div(K, fused::chunk_cols(fused::kDenseBits));
  }
}

// Staged x rows of the widest K slice.
std::size_t staged_bytes(const FusedParams& p) {
  const std::int64_t width = ceil_div(p.chunks, p.split) * fused::chunk_cols(p.bits);
  return static_cast<std::size_t>(p.M * (width + fused::kPadHalves) * 2);
}

// Blocks per cluster along K for mma_split_k: enough blocks for every SM, and enough slices
// for the staged x rows to fit in shared memory (long K, many tokens); at most the portable
// cluster, at least two chunks per block. 1 when no split is possible.
int split_for(FusedParams p) {
  const std::int64_t cap =
      std::min<std::int64_t>(fused::kMaxClusterBlocks / p.cluster_x, p.chunks / 2);
  std::int64_t split = ceil_div(device_limits().sms, std::max<std::int64_t>(p.tiles, 1));
  for (p.split = 1; p.split < cap && staged_bytes(p) > device_limits().max_dynamic_smem;) ++p.split;
  split = std::max<std::int64_t>(split, p.split);
  return static_cast<int>(std::clamp<std::int64_t>(split, 1, std::max<std::int64_t>(cap, 1)));
}

// Whether the planned launch fits: readable weights, 16-byte x rows, the staged rows in shared
// memory, a grid the hardware takes.
bool launchable(const FusedParams& p) {
  if (p.bits == 0 || p.K % 8 != 0 || p.tiles < 1 || p.tiles > 0x7fffffff) return false;
  if (fused::has_norm(p.mode)) {
    if (!is_aligned(p.x32, 16) || p.x_stride % 4 != 0 || !is_aligned(p.norm_w, 16)) return false;
  } else if (!is_aligned(p.x16, 16)) {
    return false;
  }
  return p.cluster_x * p.split <= fused::kMaxClusterBlocks &&
         staged_bytes(p) <= device_limits().max_dynamic_smem;
}

// Finishes the geometry: `split` 0 picks the K split of mma_split_k.
FusedParams planned(FusedParams p, int split) {
  p.split = split > 0 ? split : split_for(p);
  p.smem_bytes = staged_bytes(p);
  return p;
}

// ---- arguments -> params -------------------------------------------------------------------

void set_norm(FusedParams& p, const RmsNormPrologue& n) {
  p.x32 = n.x.ptr<const float>();
  p.x_stride = n.x.stride[0];
  p.norm_w = n.weight.ptr<const float>();
  p.eps = n.eps;
}

FusedParams params_of(const FusedNormGemvArgs& a) {
  FusedParams p;
  p.mode = a.epilogue == Epilogue::swiglu ? FusedMode::swiglu : FusedMode::store;
  p.M = static_cast<int>(a.M());
  p.N = a.N();
  set_norm(p, a.norm);
  set_weights(p, a.weights, a.K());
  p.y = a.y.data;
  p.y_f32 = a.y.dtype == DType::f32;
  p.tiles = ceil_div(p.N, fused::kTileRows);
  p.pdl = a.pdl;
  return p;
}

FusedParams params_of(const FusedNormQkvArgs& a) {
  FusedParams p;
  p.mode = FusedMode::qkv;
  p.M = static_cast<int>(a.M());
  p.N = qkv_rows(a);
  set_norm(p, a.norm);
  set_weights(p, a.weights, a.K());
  p.bias = a.bias.ptr<const float>();
  p.q = a.q.data;
  p.q_stride = a.q.stride[0];
  p.cache = a.cache;
  p.positions = a.positions.ptr<const std::int32_t>();
  p.seq_ids = a.seq_ids.ptr<const std::int32_t>();
  p.inv_freq = static_cast<const float*>(a.freqs.inv_freq.data);
  p.theta = a.freqs.theta;
  p.half_split = a.freqs.style == RopeStyle::half_split;
  p.hq = static_cast<int>(a.q.dim(1));
  p.hkv = a.cache.num_kv_heads;
  p.head_dim = static_cast<int>(a.q.dim(2));
  p.rot_dim = resolve_rot_dim("fused_norm_qkv_rope_kv", a.freqs, p.head_dim);
  p.tiles = ceil_div(p.N, fused::kTileRows);
  // A head's tiles form the cluster's x extent: RoPE pairs never leave their cluster.
  p.cluster_x = static_cast<int>(std::max<std::int64_t>(p.head_dim / fused::kTileRows, 1));
  p.pdl = a.pdl;
  return p;
}

FusedParams params_of(const FusedGemvResidualArgs& a) {
  FusedParams p;
  p.mode = FusedMode::residual;
  p.M = static_cast<int>(a.M());
  p.N = a.N();
  p.x16 = a.x.data;
  set_weights(p, a.weights, a.K());
  p.y = a.y.data;
  p.y_f32 = true;
  p.tiles = ceil_div(p.N, fused::kTileRows);
  p.pdl = a.pdl;
  return p;
}

// The qkv kernel needs whole heads of 16-row tiles, a head per cluster.
bool qkv_shape_ok(const FusedParams& p) {
  return p.head_dim % fused::kTileRows == 0 && p.cluster_x <= fused::kMaxClusterBlocks;
}

template <class Args>
bool fused_ok(const Args& a, int split) {
  if (a.M() > kGemvMaxM) return false;  // one n-tile of 8 tokens
  const FusedParams p = planned(params_of(a), split);
  if (p.mode == FusedMode::qkv && !qkv_shape_ok(p)) return false;
  return launchable(p);
}

void launch_mode(const FusedParams& p, cudaStream_t stream) {
  switch (p.mode) {
    case FusedMode::store:
      return fused::launch_norm_store(p, stream);
    case FusedMode::swiglu:
      return fused::launch_norm_swiglu(p, stream);
    case FusedMode::qkv:
      return fused::launch_norm_qkv(p, stream);
    case FusedMode::residual:
      return fused::launch_residual(p, stream);
  }
}

// ---- registries ----------------------------------------------------------------------------

template <class Args>
bool unfused_ok(const Args& a) {
  if constexpr (requires { a.workspace; })
    return a.workspace != nullptr && a.workspace_bytes >= fused::unfused_bytes(a);
  else
    return true;
}

// The fused variants: mma (no K split; qkv clusters span a head), mma_split_k, and staged (the
// decode chain's mma_staged GEMV with the norm in its prologue).
template <class Args>
registry::OpRegistry<Args> build(std::string op) {
  registry::OpRegistry<Args> reg(std::move(op));
  reg.add({.name = "unfused",
           .description = "the existing kernels in sequence (rmsnorm_to_half, gemv, add_bias, "
                          "qkv_rope_kv_write), intermediates in the workspace",
           .supports = [](const Args& a) { return unfused_ok(a); },
           .launch = [](const Args& a, cudaStream_t s) { fused::run_unfused(a, s); }});
  reg.add({.name = "mma",
           .description = "one kernel: x staged (normalized) in shared memory, tensor-core GEMV "
                          "of one 16-row tile per block, fused epilogue; optional PDL",
           .supports = [](const Args& a) { return fused_ok(a, 1); },
           .launch =
               [](const Args& a, cudaStream_t s) {
                 validate(a);
                 launch_mode(planned(params_of(a), 1), s);
               }});
  reg.add({.name = "mma_split_k",
           .description = "mma with K split over a cluster of up to 8 blocks, partial tiles "
                          "summed through distributed shared memory: more blocks for small N",
           .supports =
               [](const Args& a) {
                 const FusedParams p = planned(params_of(a), 0);
                 return p.split > 1 && fused_ok(a, p.split);
               },
           .launch =
               [](const Args& a, cudaStream_t s) {
                 validate(a);
                 launch_mode(planned(params_of(a), 0), s);
               }});
  reg.add({.name = "staged",
           .description = "the decode chain's GEMV (gemv mma_staged: x and scales staged in shared "
                          "memory, codes streamed) with the RMSNorm in its prologue; QKV with "
                          "interleaved RoPE: bias, RoPE, q and the cache rows in its epilogue "
                          "(half_split: add_bias + qkv_rope_kv_write after it); residual the "
                          "chain's GEMV; tiled quantized weights, or dense f16 QKV weights on "
                          "the given norm rows (the chain's vec16_multi_row GEMV, same epilogue)",
           .supports = [](const Args& a) { return fused::staged_ok(a); },
           .launch =
               [](const Args& a, cudaStream_t s) {
                 validate(a);
                 fused::run_staged(a, s);
               }});
  // staged wherever it serves (end to end, mma was 2x slower than the chain staged builds on);
  // else split K while the tiles alone leave SMs idle, or when one block cannot stage all of K.
  reg.set_auto([](const Args& a) -> std::string {
    if (fused::staged_ok(a)) return "staged";
    if (a.M() > kGemvMaxM) return "unfused";
    return params_of(a).tiles < device_limits().sms || !fused_ok(a, 1) ? "mma_split_k" : "mma";
  });
  return reg;
}

}  // namespace

std::size_t fused_workspace_bytes(const FusedNormGemvArgs& args) {
  return fused::unfused_bytes(args);
}

std::size_t fused_workspace_bytes(const FusedNormQkvArgs& args) {
  return std::max(fused::unfused_bytes(args), fused::staged_qkv_bytes(args));
}

std::size_t fused_staged_workspace_bytes(const FusedNormQkvArgs& args) {
  return fused::staged_qkv_bytes(args);
}

namespace {

// Optional given f16 rows [m, k] on the device (`normed`: the norm kernel's; `unnormed`: the
// residual rows of a caller that folded the norm weight into W); empty views pass.
void check_given_rows(std::string_view op, std::string_view name, const TensorView& u,
                      std::int64_t m, std::int64_t k) {
  if (!u.data) return;
  expect_rank(op, name, u, 2);
  expect_device(op, name, u, Device::cuda);
  expect_dtype(op, name, u, DType::f16);
  expect_contiguous(op, name, u);
  expect_dim(op, name, u, 0, m);
  expect_dim(op, name, u, 1, k);
}

}  // namespace

void validate(const FusedNormGemvArgs& a) {
  constexpr std::string_view op = "fused_norm_gemv";
  expect_rank(op, "y", a.y, 2);
  check_tokens(op, "y", a.M());
  check_arg(a.y.dtype == DType::f16 || a.y.dtype == DType::f32, op, "y",
            "expected dtype f16 or f32, got " + std::string(dtype_name(a.y.dtype)));
  check_arg(a.N() >= 1, op, "y", "expected at least one column, got " + shape_str(a.y));
  check_matrix(op, "y", a.y, a.y.dtype, a.M(), a.N());
  check_norm(op, a.norm, a.M());
  check_arg(a.epilogue == Epilogue::none || a.epilogue == Epilogue::swiglu, op, "epilogue",
            "expected none or swiglu (the residual add is fused_gemv_residual)");
  check_weights(op, a.weights, a.N(), a.K(), a.epilogue == Epilogue::swiglu);
  // Blocks read x while others write y: the two must not share bytes.
  const auto* x0 = static_cast<const char*>(a.norm.x.data);
  const auto* x1 = x0 + ((a.M() - 1) * a.norm.x.stride[0] + a.K()) * 4;
  const auto* y0 = static_cast<const char*>(a.y.data);
  check_arg(y0 + a.y.nbytes() <= x0 || x1 <= y0, op, "y", "must not overlap 'norm.x'");
  check_given_rows(op, "unnormed", a.unnormed, a.M(), a.K());
  check_arg(!a.unnormed.data || !views_overlap(a.y, a.unnormed), op, "y",
            "must not overlap 'unnormed'");
}

void validate(const FusedNormQkvArgs& a) {
  constexpr std::string_view op = "fused_norm_qkv_rope_kv";
  expect_rank(op, "q", a.q, 3);
  expect_device(op, "q", a.q, Device::cuda);
  expect_dtype(op, "q", a.q, DType::f16);
  expect_nonnull(op, "q", a.q);
  check_tokens(op, "q", a.M(), kGemvWideMaxM);  // > kGemvMaxM: staged (wide) and unfused only
  const std::int64_t hq = a.q.dim(1), d = a.q.dim(2);
  check_arg(hq >= 1 && d >= 1, op, "q", "expected Hq, D >= 1, got " + shape_str(a.q));
  check_arg(a.q.stride[2] == 1 && (hq == 1 || a.q.stride[1] == d), op, "q",
            "expected packed heads (strides [*, D, 1])");
  check_arg(a.M() <= 1 || a.q.stride[0] >= hq * d, op, "q", "tokens overlap (stride < Hq * D)");
  const KvCacheView& c = a.cache;
  check_arg(c.k && c.v, op, "cache", "expected k and v pointers");
  check_arg(c.dtype == DType::f16, op, "cache",
            "expected dtype f16, got " + std::string(dtype_name(c.dtype)));
  check_arg(c.num_kv_heads >= 1 && hq % c.num_kv_heads == 0, op, "cache",
            "expected kv heads dividing " + std::to_string(hq) + " query heads, got " +
                std::to_string(c.num_kv_heads));
  check_arg(c.head_dim == d, op, "cache",
            "head dim " + std::to_string(c.head_dim) + " differs from q's " + std::to_string(d));
  check_arg(c.page_size >= 1 && c.num_blocks >= 1 && c.num_seqs >= 0, op, "cache",
            "expected a non-empty cache (use make_*_kv_cache)");
  check_arg(!c.paged() || (c.block_table && c.max_blocks_per_seq >= 1), op, "cache",
            "a paged cache needs a block table");
  check_norm(op, a.norm, a.M());
  check_weights(op, a.weights, qkv_rows(a), a.K(), false);
  if (a.bias.data) {
    expect_rank(op, "bias", a.bias, 1);
    expect_device(op, "bias", a.bias, Device::cuda);
    expect_dtype(op, "bias", a.bias, DType::f32);
    expect_contiguous(op, "bias", a.bias);
    expect_dim(op, "bias", a.bias, 0, qkv_rows(a));
  }
  check_index_array(op, "positions", a.positions, a.M());
  check_index_array(op, "seq_ids", a.seq_ids, a.M());
  resolve_rot_dim(op, a.freqs, d);
  check_given_rows(op, "unnormed", a.unnormed, a.M(), a.K());
  check_arg(!a.normed.data || !a.unnormed.data, op, "unnormed", "not together with 'normed'");
  check_given_rows(op, "normed", a.normed, a.M(), a.K());
}

void validate(const FusedGemvResidualArgs& a) {
  constexpr std::string_view op = "fused_gemv_residual";
  expect_rank(op, "x", a.x, 2);
  expect_rank(op, "y", a.y, 2);
  check_tokens(op, "x", a.M());
  check_arg(a.K() >= 1 && a.K() <= (std::int64_t{1} << 30), op, "x",
            "expected 1..2^30 columns, got " + shape_str(a.x));
  check_arg(a.N() >= 1, op, "y", "expected at least one column, got " + shape_str(a.y));
  check_matrix(op, "x", a.x, DType::f16, a.M(), a.K());
  check_matrix(op, "y", a.y, DType::f32, a.M(), a.N());
  const auto* x0 = static_cast<const char*>(a.x.data);
  const auto* y0 = static_cast<const char*>(a.y.data);
  check_arg(x0 + a.x.nbytes() <= y0 || y0 + a.y.nbytes() <= x0, op, "y", "must not overlap 'x'");
  check_weights(op, a.weights, a.N(), a.K(), false);
}

const registry::OpRegistry<FusedNormGemvArgs>& fused_norm_gemv_registry() {
  static const auto reg = build<FusedNormGemvArgs>("fused_norm_gemv");
  return reg;
}

const registry::OpRegistry<FusedNormQkvArgs>& fused_norm_qkv_registry() {
  static const auto reg = build<FusedNormQkvArgs>("fused_norm_qkv_rope_kv");
  return reg;
}

const registry::OpRegistry<FusedGemvResidualArgs>& fused_gemv_residual_registry() {
  static const auto reg = build<FusedGemvResidualArgs>("fused_gemv_residual");
  return reg;
}

void fused_norm_gemv(const FusedNormGemvArgs& args, cudaStream_t stream, std::string_view variant) {
  validate(args);
  fused_norm_gemv_registry().run(args, stream, variant);
}

void fused_norm_qkv_rope_kv(const FusedNormQkvArgs& args, cudaStream_t stream,
                            std::string_view variant) {
  validate(args);
  fused_norm_qkv_registry().run(args, stream, variant);
}

void fused_gemv_residual(const FusedGemvResidualArgs& args, cudaStream_t stream,
                         std::string_view variant) {
  validate(args);
  fused_gemv_residual_registry().run(args, stream, variant);
}

}  // namespace klab::cuda
