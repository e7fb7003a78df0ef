// fused decode / unfused: the chains the fused kernels replace, launched kernel by kernel
// (rmsnorm_to_half, gemv, add_bias, qkv_rope_kv_write), each validating its own arguments.
#include "cuda/fused_decode/unfused.hpp"

#include "cuda/common/launch_util.hpp"
#include "klab/cuda/model_kernels.hpp"
#include "klab/cuda/qkv.hpp"

namespace klab::cuda::fused {

namespace {

constexpr std::int64_t kAlign = 256;

std::int64_t h_bytes(std::int64_t M, std::int64_t K) {
  return round_up(M * K * static_cast<std::int64_t>(dtype_size(DType::f16)), kAlign);
}

TensorView f16_rows(void* data, std::int64_t rows, std::int64_t cols) {
  return TensorView::contiguous(data, DType::f16, {rows, cols}, Device::cuda);
}

GemvArgs gemv_args(const TensorView& y, const TensorView& x, const FusedWeights& w, Epilogue e) {
  GemvArgs g;
  g.y = y;
  g.x = x;
  g.w = w.w;
  g.w_up = w.w_up;
  g.w_dense = w.w_dense;
  g.w_dense_up = w.w_dense_up;
  g.epilogue = e;
  return g;
}

// h = f16(rmsnorm(x) * weight) in the workspace.
TensorView normalized(const RmsNormPrologue& n, void* workspace, cudaStream_t stream) {
  const TensorView h = f16_rows(workspace, n.x.dim(0), n.x.dim(1));
  rmsnorm_to_half({h, n.x, n.weight, n.eps}, stream);
  return h;
}

}  // namespace

std::size_t unfused_bytes(const FusedNormGemvArgs& a) {
  return static_cast<std::size_t>(h_bytes(a.M(), a.K()));
}

std::size_t unfused_bytes(const FusedNormQkvArgs& a) {
  const std::int64_t n = (a.q.dim(1) + 2 * std::int64_t{a.cache.num_kv_heads}) * a.q.dim(2);
  return static_cast<std::size_t>(h_bytes(a.M(), a.K()) + h_bytes(a.M(), n));
}

void run_unfused(const FusedNormGemvArgs& a, cudaStream_t stream) {
  const TensorView h = normalized(a.norm, a.workspace, stream);
  gemv(gemv_args(a.y, h, a.weights, a.epilogue), stream);
}

void run_unfused(const FusedNormQkvArgs& a, cudaStream_t stream) {
  const TensorView h = normalized(a.norm, a.workspace, stream);
  const std::int64_t n = (a.q.dim(1) + 2 * std::int64_t{a.cache.num_kv_heads}) * a.q.dim(2);
  const TensorView qkv =
      f16_rows(static_cast<char*>(a.workspace) + h_bytes(a.M(), a.K()), a.M(), n);
  gemv(gemv_args(qkv, h, a.weights, Epilogue::none), stream);
  if (a.bias.data) add_bias({qkv, a.bias}, stream);
  qkv_rope_kv_write({a.q, a.cache, qkv, a.positions, a.seq_ids, a.freqs}, stream);
}

void run_unfused(const FusedGemvResidualArgs& a, cudaStream_t stream) {
  GemvArgs g = gemv_args(a.y, a.x, a.weights, Epilogue::residual);
  g.residual = a.y;
  gemv(g, stream);
}

}  // namespace klab::cuda::fused
