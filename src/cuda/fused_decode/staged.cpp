// fused decode / staged: the GEMV the decode chain runs (gemv mma_staged: x and the tile's
// scales staged in shared memory once per block, codes streamed through a cp.async ring) with
// the RMSNorm in its prologue (GemvParams::norm_x): each block reduces the f32 rows itself and
// stages act(x * inv_rms * w) where mma_staged copies x. No norm kernel, no f16 h round trip.
// QKV: the rows go to the caller's workspace, then add_bias and qkv_rope_kv_write (the chain's
// kernels), or with the interleaved rotation the GEMV's QKV epilogue writes q and the cache rows.
// Dense f16 weights: the chain's dense GEMV (vec16_multi_row), QKV with the same epilogue, on
// the norm's rows given (`normed`, QKV) or on the f16 residual rows of a caller that folded the
// norm weight into W (`unnormed`: the GEMV scales each token's sums by inv_rms). Residual
// projections have no norm: the chain's GEMV as it is.
#include "cuda/fused_decode/staged.hpp"

#include <bit>
#include <string>
#include <string_view>

#include "cuda/common/env_switch.hpp"
#include "cuda/common/launch_util.hpp"
#include "cuda/common/rope_check.hpp"
#include "cuda/gemv/gemv_params.hpp"
#include "klab/cuda/model_kernels.hpp"
#include "klab/cuda/qkv.hpp"

namespace klab::cuda::fused {

namespace {

using gemv_impl::GemvParams;

template <class Args>
bool valid(const Args& a) {
  try {
    validate(a);
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool tiled_quant(const FusedWeights& w) {
  return w.w && w.w->has_tiled() && (!w.w_up || w.w_up->has_tiled());
}

// Dense weights run the chain's dense GEMV, which has no norm prologue: it reads given f16 rows
// (`rows`: normed, or unnormed with the norm weight folded into W), 16-byte aligned.
bool dense_on_rows(const FusedWeights& w, const TensorView& rows, std::int64_t k) {
  const auto f16_aligned = [](const TensorView& t) {
    return t.data == nullptr || (t.dtype == DType::f16 && is_aligned(t.data, 16));
  };
  return w.w == nullptr && w.w_dense.data && rows.data && f16_aligned(w.w_dense) &&
         f16_aligned(w.w_dense_up) && is_aligned(rows.data, 16) && k % 8 == 0;
}

const TensorView& dense_rows(const FusedNormQkvArgs& a) {
  return a.unnormed.data ? a.unnormed : a.normed;
}

// The dense GEMV y[M, N] = rows · Wᵀ on the given f16 rows; unnormed ones are scaled by inv_rms
// in the GEMV (the norm weight folded into W).
GemvParams dense_params(void* y, std::int64_t n, const FusedWeights& w, const TensorView& rows,
                        bool unnormed, float eps) {
  GemvParams p;
  p.y = y;
  p.x = rows.data;
  p.x_rms_scale = unnormed;
  p.norm_eps = eps;
  p.wd = w.w_dense.data;
  p.wd_up = w.w_dense_up.data;
  p.M = static_cast<int>(rows.dim(0));
  p.N = n;
  p.K = rows.dim(1);
  p.act = DType::f16;
  return p;
}

// y = epilogue(rmsnorm(x) · W'ᵀ) on dense weights with the norm weight folded in (unnormed).
GemvParams dense_norm_gemv_params(const FusedNormGemvArgs& a) {
  GemvParams p = dense_params(a.y.data, a.N(), a.weights, a.unnormed, true, a.norm.eps);
  p.y_f32 = a.y.dtype == DType::f32;
  p.epilogue = a.epilogue;
  return p;
}

std::int64_t qkv_rows(const FusedNormQkvArgs& a) {
  return (a.q.dim(1) + 2 * std::int64_t{a.cache.num_kv_heads}) * a.q.dim(2);
}

TensorView qkv_view(const FusedNormQkvArgs& a) {
  return TensorView::contiguous(a.workspace, DType::f16, {a.M(), qkv_rows(a)}, Device::cuda);
}

// Whether the byte ranges [a, a + a_bytes) and [b, b + b_bytes) meet.
bool overlaps(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
  const auto* a0 = static_cast<const char*>(a);
  const auto* b0 = static_cast<const char*>(b);
  return a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

// Whether [p, p + bytes) meets the norm rows' bytes as the kernel reads them.
bool overlaps_norm_rows(const void* p, std::size_t bytes, const RmsNormPrologue& n) {
  const auto rows = static_cast<std::size_t>((n.x.dim(0) - 1) * n.x.stride[0] + n.x.dim(1)) * 4;
  return overlaps(p, bytes, n.x.data, rows);
}

// y = epilogue(rmsnorm(n) · Wᵀ) through mma_staged's norm prologue; y f16 or f32 [M, N].
GemvParams norm_gemv_params(const TensorView& y, const RmsNormPrologue& n, const FusedWeights& w,
                            Epilogue epilogue) {
  GemvParams p;
  p.y = y.data;
  p.M = static_cast<int>(y.dim(0));
  p.N = y.dim(1);
  p.K = n.x.dim(1);
  p.tw = w.w->tiled();
  if (w.w_up) p.tw_up = w.w_up->tiled();
  p.group_shift = std::countr_zero(static_cast<unsigned>(w.w->format().group));
  p.zero_point = quant_zero_point(w.w->format());
  p.act = DType::f16;
  p.y_f32 = y.dtype == DType::f32;
  p.epilogue = epilogue;
  p.norm_x = n.x.ptr<const float>();
  p.norm_x_stride = n.x.stride[0];
  p.norm_w = n.weight.ptr<const float>();
  p.norm_eps = n.eps;
  return p;
}

void launch(const GemvParams& p, bool pdl, cudaStream_t stream) {
  pdl ? gemv_impl::launch_mma_staged_pdl(p, stream) : gemv_impl::launch_mma_staged(p, stream);
}

// The dense QKV projection into the workspace (the epilogue may replace it).
GemvParams dense_qkv_params(const FusedNormQkvArgs& a) {
  return dense_params(a.workspace, qkv_rows(a), a.weights, dense_rows(a),
                      a.unnormed.data != nullptr, a.norm.eps);
}

void launch_dense(const GemvParams& p, bool pdl, cudaStream_t stream) {
  pdl ? gemv_impl::launch_dense_vec16_multi_row_pdl(p, stream)
      : gemv_impl::launch_dense_vec16_multi_row(p, stream);
}

// The QKV epilogue of mma_staged (bias, RoPE, q and the cache rows from the accumulators) serves
// the interleaved rotation, whose pairs (2i, 2i + 1) sit in one 16-row tile; half_split pairs
// lie D / 2 rows apart, in another block: those keep the workspace and qkv_rope_kv_write.
bool epilogue_serves(const FusedNormQkvArgs& a) {
  return a.freqs.style == RopeStyle::interleaved && a.q.dim(2) % 16 == 0;
}

gemv_impl::QkvRopeEpilogue qkv_epilogue(const FusedNormQkvArgs& a) {
  gemv_impl::QkvRopeEpilogue e;
  e.on = true;
  e.q = a.q.data;
  e.q_stride = a.q.stride[0];
  e.cache = a.cache;
  e.positions = a.positions.ptr<const std::int32_t>();
  e.seq_ids = a.seq_ids.ptr<const std::int32_t>();
  e.bias = a.bias.data ? a.bias.ptr<const float>() : nullptr;
  e.inv_freq = a.freqs.inv_freq.data ? a.freqs.inv_freq.ptr<const float>() : nullptr;
  e.theta = a.freqs.theta;
  e.hq = static_cast<int>(a.q.dim(1));
  e.hkv = a.cache.num_kv_heads;
  e.head_dim = static_cast<int>(a.q.dim(2));
  e.rot_dim = resolve_rot_dim("fused_norm_qkv_rope_kv", a.freqs, e.head_dim);
  return e;
}

QkvRopeKvWriteArgs rope_args(const FusedNormQkvArgs& a) {
  return {a.q, a.cache, qkv_view(a), a.positions, a.seq_ids, a.freqs};
}

GemvArgs residual_gemv_args(const FusedGemvResidualArgs& a) {
  GemvArgs g;
  g.y = a.y;
  g.x = a.x;
  g.w = a.weights.w;
  g.residual = a.y;
  g.epilogue = Epilogue::residual;
  g.spread = a.spread;
  return g;
}

// A wide decode batch's QKV block (kGemvMaxM < M <= kGemvWideMaxM): the chain's GEMV for those
// rows, mma_wide, on the norm kernel's rows (`normed`: mma_wide has no norm prologue) with the
// QKV epilogue per n-tile of 8 tokens: no qkv rows, no qkv_token_split launch. Interleaved RoPE
// only (half_split would keep the chain's kernels after the GEMV: nothing to fuse).
GemvParams wide_qkv_params(const FusedNormQkvArgs& a) {
  GemvParams p = norm_gemv_params(qkv_view(a), a.norm, a.weights, Epilogue::none);
  p.norm_x = nullptr;
  p.x = a.normed.data;
  p.qkv = qkv_epilogue(a);
  return p;
}

bool wide_qkv_ok(const FusedNormQkvArgs& a) {
  if (a.M() <= kGemvMaxM || a.M() > kGemvWideMaxM || !tiled_quant(a.weights) || !a.normed.data ||
      !epilogue_serves(a) || !valid(rope_args(a)))
    return false;
  GemvArgs g;
  g.y = qkv_view(a);  // its shape only: the epilogue writes q and the cache instead
  g.x = a.normed;
  g.w = a.weights.w;
  if (!gemv_args_problem(g).empty()) return false;
  const auto* v = gemv_registry().find("mma_wide");
  if (!v || !v->supports(g)) return false;
  // Where it measured faster than the chain (H100, session 16, 16 sequences, tok/s fused /
  // chain): blocks of 3 row tiles (Llama-2-7B Q4_0, c7: 3,583.2, 3,574.7 / 3,551.8, 3,523.0);
  // one tile a block loses (c6: Llama-3-8B Q4_0 4,792.7, 4,776.3 / 4,829.7, 4,877.6; Llama-2-7B
  // Q8_0 2,767.8, 2,757.9 / 2,795.1, 2,792.9). KLAB_CUDA_WIDE_QKV=fused takes it wherever it
  // serves (tests, study).
  return env_equals("KLAB_CUDA_WIDE_QKV", "fused") ||
         gemv_impl::mma_wide_qkv_row_tiles(wide_qkv_params(a)) == 3;
}

}  // namespace

bool staged_ok(const FusedNormGemvArgs& a) {
  if (!valid(a) || a.M() > kGemvMaxM) return false;
  if (a.weights.w == nullptr) return dense_on_rows(a.weights, a.unnormed, a.K());
  if (!tiled_quant(a.weights)) return false;
  return gemv_impl::mma_staged_fits(norm_gemv_params(a.y, a.norm, a.weights, a.epilogue));
}

std::size_t staged_qkv_bytes(const FusedNormQkvArgs& a) {
  return static_cast<std::size_t>(a.M() * qkv_rows(a)) * dtype_size(DType::f16);
}

bool staged_ok(const FusedNormQkvArgs& a) {
  if (!valid(a)) return false;
  if (a.M() > kGemvMaxM) return wide_qkv_ok(a);
  const bool dense = dense_on_rows(a.weights, dense_rows(a), a.K());
  if (!dense && !tiled_quant(a.weights)) return false;
  const std::size_t bytes = staged_qkv_bytes(a);
  if (a.workspace == nullptr || a.workspace_bytes < bytes ||
      overlaps_norm_rows(a.workspace, bytes, a.norm))
    return false;
  if (!valid(rope_args(a))) return false;  // e.g. the workspace overlapping q
  // The rows the dense GEMV reads must not be the workspace it may write.
  if (dense) return !overlaps(a.workspace, bytes, dense_rows(a).data, dense_rows(a).nbytes());
  return gemv_impl::mma_staged_fits(
      norm_gemv_params(qkv_view(a), a.norm, a.weights, Epilogue::none));
}

bool staged_ok(const FusedGemvResidualArgs& a) {
  if (!valid(a) || !tiled_quant(a.weights) || a.M() > kGemvMaxM) return false;
  const GemvArgs g = residual_gemv_args(a);
  if (!gemv_args_problem(g).empty()) return false;
  try {
    (void)gemv_registry().pick(g);  // some GEMV variant takes it (e.g. x 16-byte aligned)
    return true;
  } catch (const Error&) {
    return false;
  }
}

void run_staged(const FusedNormGemvArgs& a, cudaStream_t stream) {
  if (a.weights.w == nullptr) return launch_dense(dense_norm_gemv_params(a), a.pdl, stream);
  launch(norm_gemv_params(a.y, a.norm, a.weights, a.epilogue), a.pdl, stream);
}

void run_staged(const FusedNormQkvArgs& a, cudaStream_t stream) {
  const TensorView qkv = qkv_view(a);
  if (a.M() > kGemvMaxM) {  // staged_ok: wide_qkv_ok
    const GemvParams p = wide_qkv_params(a);
    return a.pdl ? gemv_impl::launch_mma_wide_pdl(p, stream)
                 : gemv_impl::launch_mma_wide(p, stream);
  }
  if (a.weights.w == nullptr) {  // dense (staged_ok: on the given rows)
    GemvParams p = dense_qkv_params(a);
    if (epilogue_serves(a)) {
      p.qkv = qkv_epilogue(a);
      return launch_dense(p, a.pdl, stream);
    }
    launch_dense(p, a.pdl, stream);
    if (a.bias.data) add_bias({qkv, a.bias}, stream);
    return qkv_rope_kv_write(rope_args(a), stream);
  }
  GemvParams p = norm_gemv_params(qkv, a.norm, a.weights, Epilogue::none);
  if (a.normed.data) {  // the norm's rows are given: copy them as x, no prologue
    p.norm_x = nullptr;
    p.x = a.normed.data;
  }
  p.l2_after = l2_ranges_of(a.l2_after, "fused_norm_qkv_rope_kv");
  if (p.l2_after.total > 0) {
    const std::int64_t grid = p.tw.tiles();
    const std::int64_t workers = std::clamp<std::int64_t>(a.l2_after_blocks, 1, grid);
    p.l2_after_first_block = grid - workers;
    // About one piece a block (16-byte multiples; the ranges' tails add a few).
    p.l2_after.chunk = std::max<std::uint64_t>(
        4096, (p.l2_after.total / static_cast<std::uint64_t>(workers) + 15) / 16 * 16);
  }
  if (epilogue_serves(a)) {
    p.qkv = qkv_epilogue(a);
    return launch(p, a.pdl, stream);
  }
  launch(p, a.pdl, stream);
  if (a.bias.data) add_bias({qkv, a.bias}, stream);
  qkv_rope_kv_write(rope_args(a), stream);
}

void run_staged(const FusedGemvResidualArgs& a, cudaStream_t stream) {
  // As the engine's chain: auto's choice, as its _pdl twin exactly when a.pdl.
  constexpr std::string_view kPdl = "_pdl";
  const GemvArgs g = residual_gemv_args(a);
  std::string name = gemv_registry().pick(g).name;
  if (name.ends_with(kPdl)) name.resize(name.size() - kPdl.size());
  if (a.pdl) name += kPdl;
  const auto* v = gemv_registry().find(name);
  gemv(g, stream, v && v->supports(g) ? std::string_view(name) : std::string_view("auto"));
}

}  // namespace klab::cuda::fused
