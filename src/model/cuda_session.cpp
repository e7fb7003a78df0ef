// The CUDA backend: the Llama graph on the klab::cuda kernel families, one stream, weights
// uploaded once at creation, every buffer sized at creation (decode allocates nothing).
//
// Numerics (chosen to stay close to the CPU engine): the residual stream is f32; each RMSNorm
// writes the f16 input of the next GEMV; GEMVs accumulate in f32 (QKV and SwiGLU outputs
// rounded to f16, O and down projections added to the f32 residual in their epilogue); RoPE
// angles in f32; the KV cache, Q and the attention output are f16 (the attention kernels are
// half-precision), softmax in f32; logits f32.
//
// Per layer:  rmsnorm -> QKV GEMV (wq|wk|wv stacked) [+ bias] -> split + RoPE + KV write ->
//             decode attention (1 token, split-KV) or causal prefill attention over the cache ->
//             O GEMV + residual -> rmsnorm -> gate/up GEMV with SwiGLU -> down GEMV + residual.
// Prefill runs the prompt in chunks of max_batch tokens through the quantized tensor-core GEMM
// (dense weights: cuBLAS). Only the logits copy synchronizes the host with the GPU.
//
// Sequences (SessionOptions::max_sequences = S): each owns a [max_context] region of every
// layer's cache, k/v [layers, S, max_context, Hkv, D]. With S > 1 the kernels see it as a paged
// cache whose page is a whole sequence and whose block table (part of the step inputs) maps
// each batch entry to its sequence, so a step can serve any set of sequences. A decode step of
// B sequences runs B rows through every GEMV (8 < B <= 32, quantized: one mma_wide GEMV pass on
// tiled weights, else passes of 8 rows, which on the H100 beat the quantized GEMM at B=16 by
// ~3x; larger B or KLAB_CUDA_WIDE_DECODE=gemm: one tensor-core GEMM; dense, B > 8: cuBLAS) and one
// decode-attention launch over B lengths; each B gets its own CUDA graph, captured on first use
// with a split-KV plan for max_context.
#if KLAB_HAS_CUDA

#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/cuda/attention.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/fused_decode.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/cuda/kv_cache.hpp"
#include "klab/cuda/model_kernels.hpp"
#include "klab/cuda/qkv.hpp"
#include "klab/cuda/sampling.hpp"
#include "klab/device_info.hpp"
#include "klab/error.hpp"
#include "model/backend.hpp"
#include "model/cuda_dense_gemm.hpp"
#include "model/cuda_weights.hpp"

namespace klab::detail {
namespace {

using cuda_engine::DeviceWeight;

class Stream {
 public:
  Stream() {
    cuda::check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~Stream() { cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

// Page-locked host memory: copies from / to it are truly asynchronous.
template <class T>
class PinnedArray {
 public:
  explicit PinnedArray(std::size_t n) : n_(n) {
    void* p = nullptr;
    cuda::check(cudaMallocHost(&p, std::max<std::size_t>(n, 1) * sizeof(T)), "cudaMallocHost");
    p_ = static_cast<T*>(p);
  }
  ~PinnedArray() { cudaFreeHost(p_); }
  PinnedArray(const PinnedArray&) = delete;
  PinnedArray& operator=(const PinnedArray&) = delete;
  T* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

TensorView dview(void* p, DType dt, std::initializer_list<std::int64_t> shape) {
  return TensorView::contiguous(p, dt, shape, Device::cuda);
}

constexpr std::int64_t round4(std::int64_t n) {
  return (n + 3) / 4 * 4;
}

// The integer inputs of every step in one device array at fixed offsets (so graphs stay valid),
// written with one host->device copy of the prefix a step uses. Arrays start 16-byte aligned.
//   kv_lens[S]    per batch entry: keys after this step
//   table[S]      per batch entry: its sequence (the paged view's block table)
//   cu_q[4]       prefill: {0, T}
//   ids[R], positions[R]  per token row
struct StepLayout {
  std::int64_t seqs;  // S
  std::int64_t rows;  // R: the most token rows of a step
  std::int64_t kv_lens() const { return 0; }
  std::int64_t table() const { return round4(seqs); }
  std::int64_t cu_q() const { return 2 * round4(seqs); }
  std::int64_t ids() const { return cu_q() + 4; }
  std::int64_t positions() const { return ids() + round4(rows); }
  std::int64_t total() const { return positions() + round4(rows); }
};

// How one step's rows meet the cache.
struct AttnStep {
  std::int64_t rows = 0;
  bool decode = false;                      // a token per batch entry, else one sequence's chunk
  const std::int32_t* row_entry = nullptr;  // device [rows]: the batch entry of each row
  std::optional<cuda::DecodePlan> plan;     // decode: the split-KV plan
};

class CudaSession final : public Session {
 public:
  CudaSession(std::shared_ptr<const Model> model, const SessionOptions& options);
  std::string describe() const override { return description_; }
  void set_sampler(const SamplerParams& params) override;
  void sampler_accept(std::span<const std::int32_t> ids) override;
  std::int32_t sample_last() override;

 protected:
  std::span<const float> forward_prefill(std::int64_t seq, std::span<const std::int32_t> tokens,
                                         bool all_logits) override;
  std::span<const float> forward_decode(std::span<const std::int32_t> tokens,
                                        std::span<const std::int32_t> seq_ids) override;
  void copy_cache(std::int64_t src, std::int64_t dst, std::int64_t n) override;
  std::optional<std::int32_t> forward_decode_sample(std::int32_t token) override;

 private:
  struct Layer {
    DeviceTensor attn_norm, ffn_norm, qkv_bias;  // qkv_bias empty when the model has none
    DeviceWeight wqkv, wo, w_gate, w_up, w_down;
    cuda::KvCacheView kv;
  };

  Layer upload_layer(const LayerWeights& lw) const;
  void upload_weights();
  void allocate_buffers();
  void make_decode_plans();
  void forward_chunk(std::int64_t seq, std::span<const std::int32_t> tokens, std::int64_t pos0,
                     std::int64_t first_logit_row, float* logits);
  void embed(std::int64_t rows);
  void attention_block(const Layer& l, const AttnStep& step);
  void ffn_block(const Layer& l, std::int64_t t, bool decode);
  bool fused_step(const AttnStep& step, const DeviceWeight& w) const;
  std::string chain_gemv(const TensorView& y, const DeviceWeight& w, cuda::Epilogue epilogue,
                         const DeviceWeight* w_up = nullptr) const;
  bool chain_runs_staged(const TensorView& y, const DeviceWeight& w, cuda::Epilogue epilogue,
                         const DeviceWeight* w_up = nullptr) const;
  void qkv_unfused(const Layer& l, const AttnStep& step, const TensorView& q);
  bool qkv_fused(const Layer& l, const AttnStep& step, const TensorView& q);
  bool ffn_norm_fused(const Layer& l, const TensorView& ffn, bool decode);
  void residual_matmul(const TensorView& x, const DeviceWeight& w, bool decode, bool fused,
                       bool spread = false);
  cuda::RopeFreqs rope_freqs() const;
  void logits_rows(std::int64_t first, std::int64_t t, float* dst);
  void decode_body(std::int64_t batch, const cuda::DecodePlan& plan);
  struct GraphExecDeleter {
    void operator()(cudaGraphExec_t g) const { cudaGraphExecDestroy(g); }
  };
  using GraphExec = std::unique_ptr<std::remove_pointer_t<cudaGraphExec_t>, GraphExecDeleter>;
  GraphExec capture(const std::function<void()>& body);
  bool capture_decode_graph(std::int64_t batch);
  bool capture_sample_graph();
  // Step inputs of a decode of one token per sequence; returns each entry's keys after it.
  std::vector<std::int32_t> write_decode_step(std::span<const std::int32_t> tokens,
                                              std::span<const std::int32_t> seq_ids);
  cuda::DecodePlan eager_plan(std::span<const std::int32_t> lens) const;
  // Samples logits_dev_ row 0 into sampled_id_ and records it in the sampler's history.
  void sample_tail();
  std::int32_t read_sampled_id();
  void upload_step(std::int64_t used);
  // y = epilogue(x · Wᵀ). More rows than one GEMV takes: quantized weights through the
  // tensor-core GEMM, dense ones through cuBLAS; quantized decode batches of up to
  // kWideDecodeGemvRows through the GEMV instead (unless KLAB_CUDA_WIDE_DECODE=gemm): one
  // mma_wide pass on tiled weights, else passes of 8 rows.
  // spread: GemvArgs::spread for the GEMV launches (decode rows only).
  void matmul(const TensorView& y, const TensorView& x, const DeviceWeight& w,
              cuda::Epilogue epilogue, bool decode, const DeviceWeight* w_up = nullptr,
              bool spread = false);

  const std::int32_t* step_i32(std::int64_t offset) const {
    return static_cast<const std::int32_t*>(step_dev_.data()) + offset;
  }
  TensorView i32_rows(const std::int32_t* p, std::int64_t n) const {
    return dview(const_cast<std::int32_t*>(p), DType::i32, {n});
  }
  TensorView x_rows(std::int64_t t) const { return dview(x_.data(), DType::f32, {t, cfg_.hidden}); }
  TensorView h_rows(std::int64_t t) const { return dview(h_.data(), DType::f16, {t, cfg_.hidden}); }
  std::size_t seqs() const { return static_cast<std::size_t>(max_sequences()); }

  const LlamaConfig& cfg_;
  std::int64_t chunk_;  // tokens per forward pass (max_batch, at most the context)
  std::int64_t rows_;   // activation rows: max(chunk_, sequences)
  StepLayout layout_;
  std::string gemv_variant_;
  // The decode-attention variant ("auto" unless $KLAB_CUDA_DECODE_ATTN names one).
  std::string decode_attn_variant_;
  // Decode batches of 9..kWideDecodeGemvRows as GEMV passes of 8 rows (KLAB_CUDA_WIDE_DECODE=gemm:
  // the GEMM). Measured on the H100, Llama-2-7B shape Q4_0, B=16: the GEMM path 21.5 ms a step.
  static constexpr std::int64_t kWideDecodeGemvRows = 32;
  bool wide_decode_gemv_ = true;
  // Decode steps of <= 8 rows through the fused blocks (src/cuda/fused_decode), launched with
  // programmatic dependent launch unless KLAB_CUDA_PDL=0. Default (KLAB_CUDA_FUSED unset):
  // `staged` for the norm + QKV block (and the norm + gate/up block at 8 bits) where the chain
  // itself would run mma_staged on tiled quantized weights: the same GEMV with the RMSNorm in
  // its prologue (QKV with interleaved RoPE: RoPE and the KV write in its epilogue), one or two
  // launches less per block; all else stays on the chain. KLAB_CUDA_FUSED=1: fused blocks (variant
  // auto) for every supported weight, dense included; KLAB_CUDA_FUSED=0: the unfused chain.
  enum class Fused { off, staged, all };
  static Fused fused_from_env();
  Fused fused_ = Fused::staged;
  bool pdl_ = true;
  // The rmsnorm_to_half launches with PDL too (KLAB_CUDA_NORM_PDL=0: plain, a study switch).
  bool norm_pdl_ = true;
  // The O projection's blocks spread over all SMs (GemvArgs::spread): launched under PDL while
  // the decode attention holds most SMs, they would all land on the few it leaves free
  // (KLAB_CUDA_SPREAD=0: off, a study switch; spreading the down GEMV too measured neutral).
  bool spread_o_ = true;
  // The decode QKV block's norm as its own kernel (rmsnorm_to_half, under PDL) whose rows the
  // staged GEMV copies, instead of the norm in every block's prologue
  // (KLAB_CUDA_QKV_NORM=prologue: the prologue, a study switch).
  bool qkv_norm_kernel_ = true;
  // Dense f16 QKV weights in decode steps: the fused `staged` block on the norm kernel's rows
  // (the dense GEMV with the QKV epilogue: no qkv_token_split launch), as the quantized ones.
  // KLAB_CUDA_DENSE_QKV=chain: the chain (GEMV, then qkv_rope_kv_write; a study switch).
  bool dense_qkv_fused_ = true;
  bool dense_qkv_staged(const AttnStep& step, const DeviceWeight& w) const;
  // Wide decode batches (9..32 rows) on tiled quantized QKV weights: the fused `staged` block on
  // the norm kernel's rows (mma_wide, the chain's GEMV there, with the QKV epilogue: no
  // qkv_token_split launch and no qkv rows) where staged takes it (where it measured faster; see
  // staged.cpp). KLAB_CUDA_WIDE_QKV=chain: the chain; =fused: staged wherever it serves (study
  // switches).
  bool wide_qkv_fused_ = true;
  bool wide_qkv_staged(const AttnStep& step, const DeviceWeight& w) const;
  // Dense f16 weights after an RMSNorm (QKV, gate/up, an untied LM head) are uploaded with the
  // norm weight folded into their columns (W diag(g); the norm kernels then take weights of
  // ones), and in decode steps of one row the residual GEMVs (O, down) also write the
  // residual row in f16 (xh_), which the next dense GEMV reads as x, scaling its sums by
  // inv_rms: the F16 decode chain runs no norm kernel after layer 0's. Off by default since
  // session 27: on the H200 the norm kernels' chain ran 7B F16 B=1 faster (c6: 264.8 tok/s
  // against 257.2 / 255.9 folded, alternating; the H100 had measured the two equal, s12 c1).
  // KLAB_CUDA_DENSE_NORM=fold turns it on (a study switch).
  bool dense_norm_fold_ = false;
  bool norms_folded_ = false;  // every layer: QKV and gate/up folded, O and down dense
  bool head_folded_ = false;   // the (untied, dense) LM head folded
  DeviceBuffer xh_;            // f16 [rows, hidden]: the residual rows the residual GEMVs copy
  TensorView xh_rows(std::int64_t t) const {
    return dview(xh_.data(), DType::f16, {t, cfg_.hidden});
  }
  bool fold_step(std::int64_t rows, bool decode) const;
  // h_ = rmsnorm(x_) with `weight`, t rows, as its own kernel (under PDL unless norm_pdl_ is off).
  void norm_rows(const DeviceTensor& weight, std::int64_t t) {
    cuda::rmsnorm_to_half({h_rows(t), x_rows(t), weight.view(), cfg_.rms_eps, norm_pdl_},
                          stream_.get());
  }
  bool dense_norm_gemv(const TensorView& y, const TensorView& norm_weight, const DeviceWeight& w,
                       cuda::Epilogue epilogue, bool decode, const DeviceWeight* w_up = nullptr);
  // KLAB_CUDA_ABLATE (a study switch): decode steps leave out the named parts, so that the step
  // time with and without each part gives its cost inside the graph (the logits are then wrong;
  // the session's description says "ABLATED"). Names: qkv (norm + QKV + RoPE / KV write),
  // attention, o_proj, gate_up (norm + gate/up SwiGLU), down, lm_head (final norm + LM head),
  // ffn_norm (the RMSNorm kernel before the gate/up GEMV alone, where the chain has one),
  // attn_norm (the RMSNorm kernel before the QKV GEMV alone, where the step runs one).
  enum Part : unsigned {
    qkv = 1,
    attention = 2,
    o_proj = 4,
    gate_up = 8,
    down = 16,
    lm_head = 32,
    ffn_norm = 64,
    attn_norm = 128
  };
  static unsigned ablate_from_env();
  unsigned ablate_ = 0;
  // Decode steps ask the L2 for the next projections' weights (projection_prefetch): up to this
  // many bytes, the O weights first, then the heads of gate and up; 0: off.
  // KLAB_CUDA_L2_PREFETCH = MiB (0 or "off": none). Issued by the last
  // KLAB_CUDA_L2_PREFETCH_BLOCKS (default: one per SM) blocks of the fused QKV GEMV after their
  // main loop, or with KLAB_CUDA_L2_PREFETCH_AT=kernel (a study switch) by the l2_prefetch
  // kernel between the QKV block and the attention.
  static std::size_t l2_prefetch_from_env();
  std::size_t l2_prefetch_bytes_ = 0;
  bool l2_prefetch_kernel_ = false;
  std::int64_t l2_prefetch_blocks_ = 0;
  cuda::L2PrefetchList projection_prefetch(const Layer& l) const;
  bool ablated(bool decode, Part part) const { return decode && (ablate_ & part) != 0; }
  Stream stream_;
  int sm_count_ = 0;

  // Weights.
  DeviceWeight embd_;  // also the LM head when tied
  DeviceWeight output_;
  bool tied_ = false;
  DeviceTensor output_norm_, inv_freq_;
  std::vector<Layer> layers_;
  std::size_t weight_bytes_ = 0;
  std::optional<cuda_engine::DenseGemm> dense_gemm_;  // when some matrix is dense
  DeviceBuffer gate_scratch_;                         // [rows_, ffn] f16: dense SwiGLU's gate

  // KV cache: k, v each [layers, sequences, max_context, Hkv, D] f16.
  DeviceBuffer k_cache_, v_cache_;
  std::size_t seq_bytes_ = 0;  // one sequence's region of one layer
  // plans_[B - 1]: split-KV plan of a B-sequence decode step for max_context (graphs bake it
  // in; each block derives its range from the device-side length, so shorter ones are right).
  std::vector<cuda::DecodePlan> plans_;
  DeviceBuffer attn_workspace_;  // the largest plan's

  // Activations, [rows_, *].
  DeviceBuffer x_, h_, qkv_, q_, attn_, ffn_, logits_dev_;
  DeviceBuffer step_dev_, entry_zeros_, entry_iota_;
  PinnedArray<std::int32_t> step_host_;
  PinnedArray<float> logits_host_;  // [sequences, vocab]: a decode step's logits
  std::vector<float> all_logits_;
  float attn_scale_;
  std::string description_;
  // One decode step of B sequences (embedding, every layer, final norm, LM head) captured once
  // per B and replayed: its inputs live in step_dev_, so the graph never changes.
  // KLAB_CUDA_GRAPHS=0 turns graphs off (for comparisons); a failed capture falls back.
  bool use_graphs_ = true;
  std::vector<GraphExec> graphs_;  // [B - 1]

  // Sampling on the GPU (set_sampler): the decode step of sequence 0 and the sampler in one
  // graph, only the id copied back.
  std::optional<cuda::GpuSampler> sampler_;
  GraphExec sample_graph_;
  DeviceBuffer sampled_id_;
  PinnedArray<std::int32_t> id_host_{1};
};

void check_supported(const LlamaConfig& c, const SessionOptions& o) {
  const std::string what = "the CUDA backend ";
  if (c.head_dim != 64 && c.head_dim != 128 && c.head_dim != 256)
    fail(what + "supports head dims 64, 128 and 256; this model has " + std::to_string(c.head_dim) +
         " (use --device cpu)");
  if (o.kv_dtype != DType::f32 && o.kv_dtype != DType::f16)
    fail(what + "keeps its KV cache in f16; kv_dtype " + std::string(dtype_name(o.kv_dtype)) +
         " is not supported");
  if (c.rope_dim % 2 != 0 || c.rope_dim > c.head_dim)
    fail(what + "needs an even rope dimension <= the head dim, got " + std::to_string(c.rope_dim));
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

bool env_is(const char* name, std::string_view value) {
  const char* v = std::getenv(name);
  return v && std::string_view(v) == value;
}

// KLAB_CUDA_FUSED: unset or empty -> staged, 0 -> off, 1 -> all.
CudaSession::Fused CudaSession::fused_from_env() {
  const std::string v = env_or("KLAB_CUDA_FUSED", "");
  if (v.empty()) return Fused::staged;
  if (v == "0") return Fused::off;
  if (v == "1") return Fused::all;
  fail("KLAB_CUDA_FUSED: expected 0 (the unfused chain) or 1 (fused blocks everywhere), got '" + v +
       "'");
}

CudaSession::CudaSession(std::shared_ptr<const Model> model, const SessionOptions& options)
    : Session(model, session_context(*model, options), options.max_sequences),
      cfg_(model_->config()),
      chunk_(std::clamp<std::int64_t>(options.max_batch, 1, max_context())),
      rows_(std::max(chunk_, max_sequences())),
      layout_{max_sequences(), rows_},
      gemv_variant_(cuda_engine::gemv_variant_from_env()),
      decode_attn_variant_(env_or("KLAB_CUDA_DECODE_ATTN", "auto")),
      wide_decode_gemv_(!env_is("KLAB_CUDA_WIDE_DECODE", "gemm")),
      fused_(fused_from_env()),
      pdl_(!env_is("KLAB_CUDA_PDL", "0")),
      norm_pdl_(pdl_ && !env_is("KLAB_CUDA_NORM_PDL", "0")),
      spread_o_(!env_is("KLAB_CUDA_SPREAD", "0")),
      qkv_norm_kernel_(!env_is("KLAB_CUDA_QKV_NORM", "prologue")),
      dense_qkv_fused_(!env_is("KLAB_CUDA_DENSE_QKV", "chain")),
      wide_qkv_fused_(!env_is("KLAB_CUDA_WIDE_QKV", "chain")),
      dense_norm_fold_(env_is("KLAB_CUDA_DENSE_NORM", "fold")),
      ablate_(ablate_from_env()),
      l2_prefetch_bytes_(l2_prefetch_from_env()),
      l2_prefetch_kernel_(env_is("KLAB_CUDA_L2_PREFETCH_AT", "kernel")),
      step_host_(static_cast<std::size_t>(layout_.total())),
      logits_host_(seqs() * static_cast<std::size_t>(cfg_.vocab_size)),
      attn_scale_(1.0f / std::sqrt(static_cast<float>(cfg_.head_dim))) {
  check_supported(cfg_, options);
  if (env_is("KLAB_CUDA_GRAPHS", "0")) use_graphs_ = false;
  const DeviceInfo info = cuda_device_info();
  sm_count_ = info.sm_count;
  l2_prefetch_blocks_ = std::atoi(env_or("KLAB_CUDA_L2_PREFETCH_BLOCKS", "0").c_str());
  if (l2_prefetch_blocks_ <= 0) l2_prefetch_blocks_ = sm_count_;
  upload_weights();
  allocate_buffers();
  make_decode_plans();
  const std::string layer_format = layers_.empty() ? "-" : layers_.front().wqkv.format();
  const std::string sequences =
      max_sequences() > 1 ? " x " + std::to_string(max_sequences()) + " sequences" : "";
  description_ =
      "cuda (" + info.name + "), weights " + layer_format + " (embeddings " + embd_.format() +
      ") " + std::to_string(weight_bytes_ >> 20) + " MiB on device, kv cache f16 x " +
      std::to_string(max_context()) + sequences + ", gemv " + gemv_variant_ +
      (max_sequences() > cuda::kGemvMaxM
           ? (wide_decode_gemv_ ? ", wide decode gemv" : ", wide decode gemm")
           : "") +
      (fused_ == Fused::all      ? (pdl_ ? ", fused decode + pdl" : ", fused decode")
       : fused_ == Fused::staged ? ", rmsnorm in the staged gemv"
                                 : "") +
      (use_graphs_ ? ", decode graphs" : ", no graphs") +
      (l2_prefetch_bytes_ ? ", l2 prefetch " + std::to_string(l2_prefetch_bytes_ >> 20) + " MiB"
                          : std::string()) +
      (ablate_ ? ", ABLATED decode parts (KLAB_CUDA_ABLATE; logits are wrong)" : "");
}

std::size_t CudaSession::l2_prefetch_from_env() {
  // Off by default: measured slower or neutral (docs/decode-step.md, session 7).
  const std::string v = env_or("KLAB_CUDA_L2_PREFETCH", "off");
  if (v == "off") return 0;
  char* end = nullptr;
  const unsigned long mib = std::strtoul(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || mib > 4096)
    fail("KLAB_CUDA_L2_PREFETCH: expected megabytes (0..4096) or 'off', got '" + v + "'");
  return std::size_t{mib} << 20;
}

unsigned CudaSession::ablate_from_env() {
  const char* v = std::getenv("KLAB_CUDA_ABLATE");
  if (!v || !*v) return 0;
  static constexpr std::pair<std::string_view, Part> kNames[] = {
      {"qkv", qkv},   {"attention", attention}, {"o_proj", o_proj},     {"gate_up", gate_up},
      {"down", down}, {"lm_head", lm_head},     {"ffn_norm", ffn_norm}, {"attn_norm", attn_norm}};
  unsigned mask = 0;
  std::string_view rest(v);
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view name = rest.substr(0, comma);
    const auto* hit = std::find_if(std::begin(kNames), std::end(kNames),
                                   [&](const auto& n) { return n.first == name; });
    if (hit == std::end(kNames)) {
      std::string known;
      for (const auto& n : kNames) known += (known.empty() ? "" : ", ") + std::string(n.first);
      fail("KLAB_CUDA_ABLATE: unknown part '" + std::string(name) + "' (" + known + ")");
    }
    mask |= hit->second;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return mask;
}
// Runs fn(0..n-1) on up to `threads` host threads bound to the calling thread's device; the
// first exception is rethrown here once every thread has stopped.
template <class Fn>
void parallel_for(std::size_t n, std::size_t threads, Fn fn) {
  int device = 0;
  cuda::check(cudaGetDevice(&device), "cudaGetDevice");
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  const auto work = [&] {
    try {
      cuda::check(cudaSetDevice(device), "cudaSetDevice");
      for (std::size_t i = next++; i < n; i = next++) fn(i);
    } catch (...) {
      const std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = n;  // the others stop at their next claim
    }
  };
  {
    std::vector<std::jthread> pool;
    for (std::size_t t = 1; t < std::min(threads, n); ++t) pool.emplace_back(work);
    work();
  }
  if (failure) std::rethrow_exception(failure);
}

CudaSession::Layer CudaSession::upload_layer(const LayerWeights& lw) const {
  Layer l;
  const std::vector<float> attn_g = to_f32_vector(lw.attn_norm), ffn_g = to_f32_vector(lw.ffn_norm);
  const std::vector<float> ones(attn_g.size(), 1.0f);
  const auto fold = [&](const std::vector<float>& g) {
    return dense_norm_fold_ ? std::span<const float>(g) : std::span<const float>();
  };
  const WeightRef* qkv[] = {&lw.wq, &lw.wk, &lw.wv};
  l.wqkv = DeviceWeight::upload(qkv, fold(attn_g));
  // A folded norm weight lives in W: the norm kernels of every other path take ones.
  l.attn_norm = cuda_engine::upload_f32(l.wqkv.columns_scaled() ? ones : attn_g);
  if (lw.bq || lw.bk || lw.bv) {
    std::vector<float> bias;
    const auto append = [&](const std::optional<WeightRef>& b, std::int64_t n) {
      const std::vector<float> v = b ? to_f32_vector(*b) : std::vector<float>(n, 0.0f);
      bias.insert(bias.end(), v.begin(), v.end());
    };
    append(lw.bq, cfg_.q_dim());
    append(lw.bk, cfg_.kv_dim());
    append(lw.bv, cfg_.kv_dim());
    l.qkv_bias = cuda_engine::upload_f32(bias);
  }
  const WeightRef* wo[] = {&lw.wo};
  l.wo = DeviceWeight::upload(wo);
  auto [gate, up] = cuda_engine::upload_pair(lw.w_gate, lw.w_up, fold(ffn_g));
  l.w_gate = std::move(gate);
  l.w_up = std::move(up);
  l.ffn_norm = cuda_engine::upload_f32(l.w_gate.columns_scaled() ? ones : ffn_g);
  const WeightRef* down[] = {&lw.w_down};
  l.w_down = DeviceWeight::upload(down);
  return l;
}

// The host-side repacking (GGUF blocks -> plain + tiled layouts, or -> f16) dominates a large
// model's upload, so matrices convert on every core: task 0 the embeddings, 1 the output head,
// 2.. the layers.
void CudaSession::upload_weights() {
  const LlamaWeights& w = model_->weights();
  tied_ = w.output.data.data() == w.token_embd.data.data();
  const std::vector<float> out_g = to_f32_vector(w.output_norm);
  inv_freq_ = cuda_engine::upload_f32(rope_inv_freq(*model_));
  layers_.resize(w.layers.size());
  const std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  parallel_for(w.layers.size() + 2, threads, [&](std::size_t task) {
    if (task == 0) {
      const WeightRef* embd[] = {&w.token_embd};
      embd_ = DeviceWeight::upload(embd);
    } else if (task == 1) {
      const WeightRef* out[] = {&w.output};
      if (!tied_)
        output_ = DeviceWeight::upload(
            out, dense_norm_fold_ ? std::span<const float>(out_g) : std::span<const float>());
    } else {
      layers_[task - 2] = upload_layer(w.layers[task - 2]);
    }
  });
  head_folded_ = !tied_ && output_.columns_scaled();
  output_norm_ =
      cuda_engine::upload_f32(head_folded_ ? std::vector<float>(out_g.size(), 1.0f) : out_g);
  norms_folded_ =
      !layers_.empty() && std::all_of(layers_.begin(), layers_.end(), [](const Layer& l) {
        return l.wqkv.columns_scaled() && l.w_gate.columns_scaled() && !l.wo.quantized() &&
               !l.w_down.quantized();
      });
  weight_bytes_ = embd_.device_bytes() + (tied_ ? 0 : output_.device_bytes());
  for (const Layer& l : layers_)
    weight_bytes_ += l.wqkv.device_bytes() + l.wo.device_bytes() + l.w_gate.device_bytes() +
                     l.w_up.device_bytes() + l.w_down.device_bytes();
}

void CudaSession::allocate_buffers() {
  const LlamaConfig& c = cfg_;
  const std::int64_t n_seqs = max_sequences();
  seq_bytes_ = static_cast<std::size_t>(max_context() * c.kv_dim()) * 2;
  const std::size_t kv_bytes = seq_bytes_ * seqs() * static_cast<std::size_t>(c.n_layers);
  k_cache_ = DeviceBuffer(kv_bytes);
  v_cache_ = DeviceBuffer(kv_bytes);
  step_dev_ = DeviceBuffer(static_cast<std::size_t>(layout_.total()) * 4);
  const TensorView table =
      dview(const_cast<std::int32_t*>(step_i32(layout_.table())), DType::i32, {n_seqs, 1});
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const std::size_t offset = seq_bytes_ * seqs() * i;
    auto* k = static_cast<std::uint8_t*>(k_cache_.data()) + offset;
    auto* v = static_cast<std::uint8_t*>(v_cache_.data()) + offset;
    const TensorView kt = dview(k, DType::f16, {n_seqs, max_context(), c.n_kv_heads, c.head_dim});
    const TensorView vt = dview(v, DType::f16, {n_seqs, max_context(), c.n_kv_heads, c.head_dim});
    // One sequence: batch entry 0 is sequence 0, no indirection needed.
    layers_[i].kv = n_seqs == 1 ? cuda::make_contiguous_kv_cache(kt, vt)
                                : cuda::make_paged_kv_cache(kt, vt, table);
  }

  const auto rows = static_cast<std::size_t>(rows_);
  const auto qkv_dim = static_cast<std::size_t>(c.q_dim() + 2 * c.kv_dim());
  x_ = DeviceBuffer(rows * static_cast<std::size_t>(c.hidden) * 4);
  h_ = DeviceBuffer(rows * static_cast<std::size_t>(c.hidden) * 2);
  qkv_ = DeviceBuffer(rows * qkv_dim * 2);
  q_ = DeviceBuffer(rows * static_cast<std::size_t>(c.q_dim()) * 2);
  attn_ = DeviceBuffer(rows * static_cast<std::size_t>(c.q_dim()) * 2);
  ffn_ = DeviceBuffer(rows * static_cast<std::size_t>(c.ffn_hidden) * 2);
  if (norms_folded_) xh_ = DeviceBuffer(rows * static_cast<std::size_t>(c.hidden) * 2);
  const std::size_t logit_rows = std::max<std::size_t>(cuda::kGemvMaxM, seqs());
  logits_dev_ = DeviceBuffer(logit_rows * static_cast<std::size_t>(c.vocab_size) * 4);
  // Batch entries of token rows: all 0 in a prefill chunk, 0..B-1 in a decode step.
  entry_zeros_ = DeviceBuffer(rows * 4);
  cuda::check(cudaMemsetAsync(entry_zeros_.data(), 0, entry_zeros_.size(), stream_.get()),
              "cudaMemsetAsync");
  std::vector<std::int32_t> iota(seqs());
  for (std::size_t i = 0; i < iota.size(); ++i) iota[i] = static_cast<std::int32_t>(i);
  entry_iota_ = DeviceBuffer(iota.size() * 4);
  entry_iota_.copy_from_host(iota.data(), iota.size() * 4);
  const auto dense = [](const DeviceWeight& w) { return w.rows() > 0 && !w.quantized(); };
  const bool dense_layers = std::any_of(layers_.begin(), layers_.end(), [&](const Layer& l) {
    return dense(l.wqkv) || dense(l.wo) || dense(l.w_gate) || dense(l.w_down);
  });
  if (dense_layers || dense(embd_) || dense(output_)) dense_gemm_.emplace(stream_.get());
  if (dense_layers) gate_scratch_ = DeviceBuffer(rows * static_cast<std::size_t>(c.ffn_hidden) * 2);
  cuda::check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
}

void CudaSession::make_decode_plans() {
  const LlamaConfig& c = cfg_;
  const std::vector<std::int32_t> longest(seqs(), static_cast<std::int32_t>(max_context()));
  std::size_t workspace = 0;
  for (std::size_t b = 1; b <= seqs(); ++b) {
    plans_.push_back(cuda::plan_decode_attention(
        static_cast<int>(b), static_cast<int>(c.n_heads), static_cast<int>(c.n_kv_heads),
        static_cast<int>(c.head_dim), DType::f16, std::span(longest).first(b), sm_count_));
    workspace = std::max(workspace, plans_.back().workspace_bytes);
  }
  if (workspace > 0) {
    attn_workspace_ = DeviceBuffer(workspace);
    // Zeroes the arrival counters of the fused split-KV variant once (it resets them itself).
    cuda::prepare_decode_workspace(attn_workspace_.data(), attn_workspace_.size(), stream_.get());
  }
  graphs_.resize(seqs());
}

void CudaSession::upload_step(std::int64_t used) {
  cuda::check(
      cudaMemcpyAsync(step_dev_.data(), step_host_.data(), static_cast<std::size_t>(used) * 4,
                      cudaMemcpyHostToDevice, stream_.get()),
      "cudaMemcpyAsync(step inputs)");
}

std::span<const float> CudaSession::forward_prefill(std::int64_t seq,
                                                    std::span<const std::int32_t> tokens,
                                                    bool all_logits) {
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (n == 1 && !all_logits) {  // a decode step (graph)
    const auto entry = static_cast<std::int32_t>(seq);
    return forward_decode(tokens, {&entry, 1});
  }
  const std::int64_t vocab = cfg_.vocab_size;
  const std::int64_t pos0 = n_past(seq);
  if (all_logits) all_logits_.resize(static_cast<std::size_t>(n * vocab));
  for (std::int64_t begin = 0; begin < n; begin += chunk_) {
    const std::int64_t end = std::min(n, begin + chunk_);
    std::int64_t first_logit_row = end - begin;  // none
    float* dst = nullptr;
    if (all_logits) {
      first_logit_row = 0;
      dst = all_logits_.data() + begin * vocab;
    } else if (end == n) {
      first_logit_row = end - begin - 1;
      dst = logits_host_.data();
    }
    forward_chunk(
        seq, tokens.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)),
        pos0 + begin, first_logit_row, dst);
  }
  cuda::check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
  if (all_logits) return all_logits_;
  return {logits_host_.data(), static_cast<std::size_t>(vocab)};
}

std::vector<std::int32_t> CudaSession::write_decode_step(std::span<const std::int32_t> tokens,
                                                         std::span<const std::int32_t> seq_ids) {
  std::int32_t* host = step_host_.data();
  std::vector<std::int32_t> lens(tokens.size());
  for (std::size_t b = 0; b < tokens.size(); ++b) {
    const auto pos = static_cast<std::int32_t>(n_past(seq_ids[b]));
    lens[b] = pos + 1;
    host[layout_.kv_lens() + b] = pos + 1;
    host[layout_.table() + b] = seq_ids[b];
    host[layout_.ids() + b] = tokens[b];
    host[layout_.positions() + b] = pos;
  }
  upload_step(layout_.positions() + static_cast<std::int64_t>(tokens.size()));
  return lens;
}

// Eager steps plan split-KV for their actual lengths (better balance than max_context's).
cuda::DecodePlan CudaSession::eager_plan(std::span<const std::int32_t> lens) const {
  cuda::DecodePlan plan =
      cuda::plan_decode_attention(static_cast<int>(lens.size()), static_cast<int>(cfg_.n_heads),
                                  static_cast<int>(cfg_.n_kv_heads),
                                  static_cast<int>(cfg_.head_dim), DType::f16, lens, sm_count_);
  if (plan.workspace_bytes > attn_workspace_.size()) plan = plans_[lens.size() - 1];
  return plan;
}

std::span<const float> CudaSession::forward_decode(std::span<const std::int32_t> tokens,
                                                   std::span<const std::int32_t> seq_ids) {
  const auto batch = static_cast<std::int64_t>(tokens.size());
  const cudaStream_t s = stream_.get();
  const std::vector<std::int32_t> lens = write_decode_step(tokens, seq_ids);
  GraphExec& graph = graphs_[static_cast<std::size_t>(batch - 1)];
  if (use_graphs_ && !graph && !capture_decode_graph(batch)) use_graphs_ = false;
  if (use_graphs_)
    cuda::check(cudaGraphLaunch(graph.get(), s), "cudaGraphLaunch(decode step)");
  else
    decode_body(batch, eager_plan(lens));
  const std::size_t n = static_cast<std::size_t>(batch * cfg_.vocab_size);
  cuda::check(
      cudaMemcpyAsync(logits_host_.data(), logits_dev_.data(), n * 4, cudaMemcpyDeviceToHost, s),
      "cudaMemcpyAsync(logits)");
  cuda::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  return {logits_host_.data(), n};
}

// ---- sampling on the GPU ------------------------------------------------------------------------

void CudaSession::set_sampler(const SamplerParams& params) {
  Session::set_sampler(params);  // validates the parameters
  sample_graph_.reset();         // the graph bakes the sampler's launch in
  sampler_.reset();
  sampler_.emplace(cfg_.vocab_size, 1, params);
  if (!sampled_id_.data()) sampled_id_ = DeviceBuffer(16);
}

void CudaSession::sampler_accept(std::span<const std::int32_t> ids) {
  if (!sampler_) {
    Session::sampler_accept(ids);  // throws: no sampler
    return;
  }
  if (!ids.empty()) sampler_->accept_host(0, ids, stream_.get());
}

void CudaSession::sample_tail() {
  const cudaStream_t s = stream_.get();
  const TensorView logits = dview(logits_dev_.data(), DType::f32, {1, cfg_.vocab_size});
  const TensorView id = dview(sampled_id_.data(), DType::i32, {1});
  sampler_->sample(logits, id, s);
  sampler_->accept(id, s);
}

std::int32_t CudaSession::read_sampled_id() {
  const cudaStream_t s = stream_.get();
  cuda::check(cudaMemcpyAsync(id_host_.data(), sampled_id_.data(), 4, cudaMemcpyDeviceToHost, s),
              "cudaMemcpyAsync(sampled id)");
  cuda::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  const std::int32_t id = id_host_.data()[0];
  if (id < 0) fail("sampling failed: " + cuda::describe_sample_status(id));
  return id;
}

// The logits of the last prefill are on the host (prefill copies them back): sample them on
// the device so the sampler's history and random stream stay the device's.
std::int32_t CudaSession::sample_last() {
  if (!sampler_) return Session::sample_last();
  const std::span<const float> logits = last_logits();
  const cudaStream_t s = stream_.get();
  cuda::check(cudaMemcpyAsync(logits_dev_.data(), logits.data(), logits.size_bytes(),
                              cudaMemcpyHostToDevice, s),
              "cudaMemcpyAsync(logits)");
  sampler_->stage_uniforms(1, s);
  sample_tail();
  return read_sampled_id();
}

std::optional<std::int32_t> CudaSession::forward_decode_sample(std::int32_t token) {
  if (!sampler_) return std::nullopt;
  const std::int32_t seq = 0;
  const std::vector<std::int32_t> lens = write_decode_step({&token, 1}, {&seq, 1});
  const cudaStream_t s = stream_.get();
  sampler_->stage_uniforms(1, s);
  if (use_graphs_ && !sample_graph_ && !capture_sample_graph()) use_graphs_ = false;
  if (use_graphs_) {
    cuda::check(cudaGraphLaunch(sample_graph_.get(), s), "cudaGraphLaunch(decode + sample)");
  } else {
    decode_body(1, eager_plan(lens));
    sample_tail();
  }
  return read_sampled_id();
}

void CudaSession::copy_cache(std::int64_t src, std::int64_t dst, std::int64_t n) {
  const auto bytes = static_cast<std::size_t>(n * cfg_.kv_dim()) * 2;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const std::size_t layer = seq_bytes_ * seqs() * l;
    const std::size_t from = layer + seq_bytes_ * static_cast<std::size_t>(src);
    const std::size_t to = layer + seq_bytes_ * static_cast<std::size_t>(dst);
    for (const DeviceBuffer* cache : {&k_cache_, &v_cache_}) {
      auto* base = static_cast<std::uint8_t*>(cache->data());
      cuda::check(
          cudaMemcpyAsync(base + to, base + from, bytes, cudaMemcpyDeviceToDevice, stream_.get()),
          "cudaMemcpyAsync(copy_sequence)");
    }
  }
  cuda::check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
}

void CudaSession::forward_chunk(std::int64_t seq, std::span<const std::int32_t> tokens,
                                std::int64_t pos0, std::int64_t first_logit_row, float* logits) {
  const auto t = static_cast<std::int64_t>(tokens.size());
  // The previous chunk's copy of the step inputs may still be queued: let it finish before
  // the pinned buffer is rewritten.
  cuda::check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
  std::int32_t* host = step_host_.data();
  host[layout_.kv_lens()] = static_cast<std::int32_t>(pos0 + t);  // keys after this chunk
  host[layout_.table()] = static_cast<std::int32_t>(seq);
  host[layout_.cu_q()] = 0;
  host[layout_.cu_q() + 1] = static_cast<std::int32_t>(t);
  for (std::int64_t i = 0; i < t; ++i) {
    host[layout_.ids() + i] = tokens[static_cast<std::size_t>(i)];
    host[layout_.positions() + i] = static_cast<std::int32_t>(pos0 + i);
  }
  upload_step(layout_.positions() + t);

  AttnStep step;
  step.rows = t;
  step.row_entry = static_cast<const std::int32_t*>(entry_zeros_.data());
  if (t == 1) {  // one token: decode attention, split-KV for this length
    step.decode = true;
    const auto len = static_cast<std::int32_t>(pos0 + 1);
    step.plan = cuda::plan_decode_attention(
        1, static_cast<int>(cfg_.n_heads), static_cast<int>(cfg_.n_kv_heads),
        static_cast<int>(cfg_.head_dim), DType::f16, {&len, 1}, sm_count_);
    if (step.plan->workspace_bytes > attn_workspace_.size()) step.plan = plans_.front();
  }
  embed(t);
  for (const Layer& l : layers_) {
    attention_block(l, step);
    ffn_block(l, t, step.decode);
  }
  if (logits) logits_rows(first_logit_row, t, logits);
}

void CudaSession::embed(std::int64_t rows) {
  cuda::EmbeddingArgs args;
  args.out = x_rows(rows);
  args.ids = i32_rows(step_i32(layout_.ids()), rows);
  if (embd_.quantized())
    args.quant = embd_.quant().plain();
  else
    args.dense = embd_.dense();
  cuda::embedding_rows(args, stream_.get());
}

// The whole device side of a decode step of `batch` sequences, logits left in logits_dev_.
void CudaSession::decode_body(std::int64_t batch, const cuda::DecodePlan& plan) {
  AttnStep step;
  step.rows = batch;
  step.decode = true;
  step.row_entry = static_cast<const std::int32_t*>(entry_iota_.data());
  step.plan = plan;
  embed(batch);
  for (const Layer& l : layers_) {
    attention_block(l, step);
    ffn_block(l, batch, true);
  }
  if (ablated(true, lm_head)) return;
  const TensorView h = h_rows(batch);
  const TensorView y = dview(logits_dev_.data(), DType::f32, {batch, cfg_.vocab_size});
  if (head_folded_ && dense_norm_gemv(y, output_norm_.view(), output_, cuda::Epilogue::none, true))
    return;
  norm_rows(output_norm_, batch);
  matmul(y, h, tied_ ? embd_ : output_, cuda::Epilogue::none, true);
}

// Captures what `body` launches on the stream as one graph; empty when some launch is not
// capturable (the caller then runs eagerly).
CudaSession::GraphExec CudaSession::capture(const std::function<void()>& body) {
  const cudaStream_t s = stream_.get();
  cudaGraph_t graph = nullptr;
  cuda::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal),
              "cudaStreamBeginCapture");
  bool captured = true;
  try {
    body();
  } catch (const Error&) {
    captured = false;
  }
  const cudaError_t end = cudaStreamEndCapture(s, &graph);
  cudaGraphExec_t exec = nullptr;
  const bool ok = captured && end == cudaSuccess && graph &&
                  cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
  if (!ok) (void)cudaGetLastError();
  if (graph) cudaGraphDestroy(graph);
  return GraphExec(ok ? exec : nullptr);
}

bool CudaSession::capture_decode_graph(std::int64_t batch) {
  const auto b = static_cast<std::size_t>(batch - 1);
  graphs_[b] = capture([&] { decode_body(batch, plans_[b]); });
  return graphs_[b] != nullptr;
}

bool CudaSession::capture_sample_graph() {
  sample_graph_ = capture([&] {
    decode_body(1, plans_.front());
    sample_tail();
  });
  return sample_graph_ != nullptr;
}

void CudaSession::matmul(const TensorView& y, const TensorView& x, const DeviceWeight& w,
                         cuda::Epilogue epilogue, bool decode, const DeviceWeight* w_up,
                         bool spread) {
  const cudaStream_t s = stream_.get();
  const std::int64_t m = x.dim(0);
  // Dense weights of a wide decode batch go to cuBLAS below: passes of 8 GEMV rows would stream
  // W once per pass (H200, Llama-2-7B F16 B=16: 714 tok/s, 3x batch 1).
  if (m > cuda::kGemvMaxM && decode && wide_decode_gemv_ && m <= kWideDecodeGemvRows &&
      w.quantized()) {
    // Tiled quantized weights: one mma_wide pass streams W once for every row.
    if (w.quant().has_tiled() && (!w_up || w_up->quant().has_tiled()) && m <= cuda::kGemvWideMaxM)
      return cuda_engine::gemv(y, x, w, epilogue, s, gemv_variant_, w_up, pdl_);
    for (std::int64_t r = 0; r < m; r += cuda::kGemvMaxM) {
      const std::int64_t e = std::min<std::int64_t>(m, r + cuda::kGemvMaxM);
      cuda_engine::matmul(y.slice0(r, e), x.slice0(r, e), w, epilogue, s, gemv_variant_, w_up,
                          pdl_);
    }
    return;
  }
  if (m > cuda::kGemvMaxM && !w.quantized()) {
    const TensorView* up = w_up ? &w_up->dense() : nullptr;
    return dense_gemm_->run(y, x, w.dense(), epilogue, up, gate_scratch_.data());
  }
  cuda_engine::matmul(y, x, w, epilogue, s, gemv_variant_, w_up, pdl_, spread && decode);
}

namespace {

cuda::FusedWeights fused_weights(const DeviceWeight& w, const DeviceWeight* up = nullptr) {
  cuda::FusedWeights f;
  if (w.quantized()) {
    f.w = &w.quant();
    if (up) f.w_up = &up->quant();
  } else {
    f.w_dense = w.dense();
    if (up) f.w_dense_up = up->dense();
  }
  return f;
}

}  // namespace

// The fused blocks take decode steps of up to one GEMV's rows, on tiled quantized or (only with
// KLAB_CUDA_FUSED=1) f16 weights.
bool CudaSession::fused_step(const AttnStep& step, const DeviceWeight& w) const {
  if (fused_ == Fused::off || !step.decode || step.rows > cuda::kGemvMaxM) return false;
  if (w.quantized()) return w.quant().has_tiled();
  return fused_ == Fused::all && w.dense().dtype == DType::f16;
}

// The GEMV variant the chain runs for y = x · Wᵀ on quantized weights (x the normalized rows);
// empty where none takes it.
std::string CudaSession::chain_gemv(const TensorView& y, const DeviceWeight& w,
                                    cuda::Epilogue epilogue, const DeviceWeight* w_up) const {
  if (!w.quantized()) return {};
  if (gemv_variant_ != "auto") return gemv_variant_;
  cuda::GemvArgs g;
  g.y = y;
  g.x = h_rows(y.dim(0));
  g.w = &w.quant();
  if (w_up) g.w_up = &w_up->quant();
  g.epilogue = epilogue;
  try {
    return cuda::gemv_registry().pick(g).name;
  } catch (const Error&) {
    return {};
  }
}

// Whether the chain's GEMV is mma_staged: then `staged` runs that same kernel with the norm
// folded in. Elsewhere (M > 1, K >= 12288: mma, mma_async) the default keeps the chain, whose
// GEMV is faster there than mma_staged.
bool CudaSession::chain_runs_staged(const TensorView& y, const DeviceWeight& w,
                                    cuda::Epilogue epilogue, const DeviceWeight* w_up) const {
  return chain_gemv(y, w, epilogue, w_up).starts_with("mma_staged");
}

cuda::RopeFreqs CudaSession::rope_freqs() const {
  cuda::RopeFreqs f;
  f.inv_freq = inv_freq_.view();
  f.theta = cfg_.rope_theta;
  f.rot_dim = static_cast<int>(cfg_.rope_dim);
  f.style = cfg_.rope_layout == RopeLayout::interleaved ? cuda::RopeStyle::interleaved
                                                        : cuda::RopeStyle::half_split;
  return f;
}

void CudaSession::qkv_unfused(const Layer& l, const AttnStep& step, const TensorView& q) {
  const LlamaConfig& c = cfg_;
  const cudaStream_t s = stream_.get();
  const std::int64_t t = step.rows;
  if (!ablated(step.decode, attn_norm)) norm_rows(l.attn_norm, t);
  const TensorView qkv = dview(qkv_.data(), DType::f16, {t, c.q_dim() + 2 * c.kv_dim()});
  matmul(qkv, h_rows(t), l.wqkv, cuda::Epilogue::none, step.decode);
  if (l.qkv_bias.view().data) cuda::add_bias({qkv, l.qkv_bias.view()}, s);
  cuda::QkvRopeKvWriteArgs split;
  split.q = q;
  split.cache = l.kv;
  split.qkv = qkv;
  split.positions = i32_rows(step_i32(layout_.positions()), t);
  split.seq_ids = i32_rows(step.row_entry, t);
  split.freqs = rope_freqs();
  split.pdl = pdl_;
  cuda::qkv_rope_kv_write(split, s);
}

// Whether this step's dense QKV weights take the fused `staged` block (dense_qkv_fused_).
bool CudaSession::dense_qkv_staged(const AttnStep& step, const DeviceWeight& w) const {
  return fused_ == Fused::staged && dense_qkv_fused_ && qkv_norm_kernel_ && step.decode &&
         step.rows <= cuda::kGemvMaxM && !w.quantized() && w.dense().dtype == DType::f16 &&
         gemv_variant_ == "auto";
}

// Whether this wide decode step's QKV block takes the fused `staged` block (wide_qkv_fused_):
// where the chain's GEMV for it is mma_wide.
bool CudaSession::wide_qkv_staged(const AttnStep& step, const DeviceWeight& w) const {
  if (fused_ != Fused::staged || !wide_qkv_fused_ || !step.decode || !wide_decode_gemv_ ||
      step.rows <= cuda::kGemvMaxM || step.rows > cuda::kGemvWideMaxM ||
      step.rows > kWideDecodeGemvRows || !w.quantized() || !w.quant().has_tiled() ||
      gemv_variant_ != "auto")
    return false;
  const TensorView qkv =
      dview(qkv_.data(), DType::f16, {step.rows, cfg_.q_dim() + 2 * cfg_.kv_dim()});
  const std::string chain = chain_gemv(qkv, w, cuda::Epilogue::none);
  return chain == "mma_wide" || chain == "mma_wide_pdl";
}

// The norm + QKV block as one fused block (see fused_); false: this step takes the chain.
bool CudaSession::qkv_fused(const Layer& l, const AttnStep& step, const TensorView& q) {
  const bool dense = dense_qkv_staged(step, l.wqkv);
  const bool wide = !dense && wide_qkv_staged(step, l.wqkv);
  if (!dense && !wide && !fused_step(step, l.wqkv)) return false;
  const std::int64_t t = step.rows;
  cuda::FusedNormQkvArgs a;
  a.q = q;
  a.cache = l.kv;
  a.norm = {x_rows(t), l.attn_norm.view(), cfg_.rms_eps};
  a.weights = fused_weights(l.wqkv);
  a.bias = l.qkv_bias.view();
  a.positions = i32_rows(step_i32(layout_.positions()), t);
  a.seq_ids = i32_rows(step.row_entry, t);
  a.freqs = rope_freqs();
  a.pdl = pdl_;
  a.workspace = qkv_.data();  // staged's projection rows, as the chain's
  a.workspace_bytes = qkv_.size();
  if (step.decode && l2_prefetch_bytes_ > 0 && !l2_prefetch_kernel_) {
    a.l2_after = projection_prefetch(l);
    a.l2_after_blocks = l2_prefetch_blocks_;
  }
  if (fused_ == Fused::staged) {
    const TensorView qkv = dview(qkv_.data(), DType::f16, {t, cfg_.q_dim() + 2 * cfg_.kv_dim()});
    // Dense folded weights after layer 0 read the f16 residual rows the down GEMV wrote.
    if (dense && fold_step(t, step.decode) && &l != &layers_.front())
      a.unnormed = xh_rows(t);
    else if (step.decode && (qkv_norm_kernel_ || wide))
      a.normed = h_rows(t);  // the norm kernel's, below (mma_wide has no norm prologue)
    if (!(dense || wide || chain_runs_staged(qkv, l.wqkv, cuda::Epilogue::none)) ||
        !cuda::fused_norm_qkv_registry().find("staged")->supports(a))
      return false;
    if (a.normed.data && !ablated(step.decode, attn_norm)) norm_rows(l.attn_norm, t);
  }
  cuda::fused_norm_qkv_rope_kv(a, stream_.get(), fused_ == Fused::staged ? "staged" : "auto");
  return true;
}

// Whether a decode step of these rows takes the folded norms (norms_folded_, only with
// KLAB_CUDA_DENSE_NORM=fold): the residual GEMVs write xh_ and the dense GEMVs after the norms
// read it. One row only: H100, 7B F16 ctx 512, tok/s fold / norm kernels, alternating (s12 c1,
// with the copy in kernels of its own): B=1 196.9, 197.1 / 197.1, 197.3 (s11 c5: +0.9%), B=4
// 529.6, 530.2 / 538.7, 537.7 (-1.5%). H200 (s27 c6), B=1: 257.2 / 255.9 folded, 264.8 not.
bool CudaSession::fold_step(std::int64_t rows, bool decode) const {
  return norms_folded_ && fused_ == Fused::staged && decode && rows == 1 && gemv_variant_ == "auto";
}

// y = epilogue(rmsnorm(x) · Wᵀ) for dense weights with the norm weight folded in: the fused
// `staged` block on the f16 residual rows xh_ (no norm kernel); false: not taken.
bool CudaSession::dense_norm_gemv(const TensorView& y, const TensorView& norm_weight,
                                  const DeviceWeight& w, cuda::Epilogue epilogue, bool decode,
                                  const DeviceWeight* w_up) {
  const std::int64_t t = y.dim(0);
  if (!fold_step(t, decode) || w.quantized() || !w.columns_scaled()) return false;
  cuda::FusedNormGemvArgs a;
  a.y = y;
  a.norm = {x_rows(t), norm_weight, cfg_.rms_eps};
  a.weights = fused_weights(w, w_up);
  a.epilogue = epilogue;
  a.pdl = pdl_;
  a.unnormed = xh_rows(t);
  const auto* staged = cuda::fused_norm_gemv_registry().find("staged");
  if (!staged || !staged->supports(a)) return false;
  cuda::fused_norm_gemv(a, stream_.get(), "staged");
  return true;
}

// The norm + gate/up (SwiGLU) block as one fused block; false: this step takes the chain.
bool CudaSession::ffn_norm_fused(const Layer& l, const TensorView& ffn, bool decode) {
  if (dense_norm_gemv(ffn, l.ffn_norm.view(), l.w_gate, cuda::Epilogue::swiglu, decode, &l.w_up))
    return true;
  AttnStep shape;
  shape.rows = ffn.dim(0);
  shape.decode = decode;
  if (!fused_step(shape, l.w_gate) || !fused_step(shape, l.w_up)) return false;
  cuda::FusedNormGemvArgs a;
  a.y = ffn;
  a.norm = {x_rows(shape.rows), l.ffn_norm.view(), cfg_.rms_eps};
  a.weights = fused_weights(l.w_gate, &l.w_up);
  a.epilogue = cuda::Epilogue::swiglu;
  a.pdl = pdl_;
  // 4-bit SwiGLU keeps the chain by default. H100 (session 5, call c5, ncu, Llama-2-7B): with
  // the norm in its prologue the 688 blocks of the 4-bit gate/up GEMV each read the f32 row and
  // norm weight (32 KB, 22 MB of L2 reads in all) and the GEMV took 27.9 us against 23.3 + 3.2
  // for GEMV + rmsnorm_to_half; at 8 bits 38.6 against 36.8 + 3.2.
  if (fused_ == Fused::staged &&
      (l.w_gate.quant().format().bits == 4 ||
       !chain_runs_staged(ffn, l.w_gate, cuda::Epilogue::swiglu, &l.w_up) ||
       !cuda::fused_norm_gemv_registry().find("staged")->supports(a)))
    return false;
  cuda::fused_norm_gemv(a, stream_.get(), fused_ == Fused::staged ? "staged" : "auto");
  return true;
}

// x += in · Wᵀ (O and down projections; `in` is attn_ or ffn_ per w's columns).
void CudaSession::residual_matmul(const TensorView& in, const DeviceWeight& w, bool decode,
                                  bool fused, bool spread) {
  const TensorView x = x_rows(in.dim(0));
  if (!fused && !w.quantized() && fold_step(in.dim(0), decode)) {
    // The f16 copy of the residual rows for the folded norm after this projection.
    cuda::GemvArgs g;
    g.y = x;
    g.x = in;
    g.w_dense = w.dense();
    g.residual = x;
    g.epilogue = cuda::Epilogue::residual;
    g.y_copy = xh_rows(in.dim(0));
    cuda::gemv(g, stream_.get(), pdl_ ? "vec16_multi_row_pdl" : "vec16_multi_row");
    return;
  }
  if (!fused) {
    matmul(x, in, w, cuda::Epilogue::residual, decode, nullptr, spread);
    return;
  }
  cuda::FusedGemvResidualArgs a;
  a.y = x;
  a.x = in;
  a.weights = fused_weights(w);
  a.pdl = pdl_;
  a.spread = spread;
  cuda::fused_gemv_residual(a, stream_.get());
}

namespace {

// The device bytes a GEMV streams for w, in the order it streams them: the tiled codes then
// scales (and mins) when that layout is on the device, else the plain ones, else the dense rows.
std::vector<cuda::DeviceBytes> streamed_bytes(const DeviceWeight& w) {
  if (!w.quantized()) return {{w.dense().data, w.dense().nbytes()}};
  const auto arrays = [](const auto& v) -> std::vector<cuda::DeviceBytes> {
    const auto codes = static_cast<std::size_t>(v.code_bytes());
    const auto scales = static_cast<std::size_t>(v.scale_bytes());
    return {{v.codes, codes}, {v.scales, scales}, {v.mins, v.mins ? scales : 0}};
  };
  const cuda::DeviceQuantMatrix& q = w.quant();
  return q.has_tiled() ? arrays(q.tiled()) : arrays(q.plain());
}

}  // namespace

// At short contexts the decode attention and the O projection after it are latency-bound and
// HBM idles (docs/decode-step.md): the ranges that fill that time are the O weights and the
// first rows of gate and up, which their GEMVs then find in L2.
cuda::L2PrefetchList CudaSession::projection_prefetch(const Layer& l) const {
  cuda::L2PrefetchList list{};
  std::size_t budget = l2_prefetch_bytes_;
  std::size_t n = 0;
  const auto take = [&](cuda::DeviceBytes r, std::size_t limit) {
    r.bytes = std::min({r.bytes, budget, limit});
    if (r.bytes == 0 || n == list.size()) return;
    list[n++] = r;
    budget -= r.bytes;
  };
  for (const cuda::DeviceBytes& r : streamed_bytes(l.wo)) take(r, budget);
  // The gate and up heads in equal parts: the SwiGLU GEMV reads row tiles of both together.
  const std::size_t half = budget / 2;
  take(streamed_bytes(l.w_gate).front(), half);
  take(streamed_bytes(l.w_up).front(), half);
  return list;
}

void CudaSession::attention_block(const Layer& l, const AttnStep& step) {
  const LlamaConfig& c = cfg_;
  const cudaStream_t s = stream_.get();
  const std::int64_t t = step.rows;
  const TensorView q = dview(q_.data(), DType::f16, {t, c.n_heads, c.head_dim});
  if (!ablated(step.decode, qkv) && !qkv_fused(l, step, q)) qkv_unfused(l, step, q);

  const TensorView out = dview(attn_.data(), DType::f16, {t, c.n_heads, c.head_dim});
  const std::int32_t* kv_lens = step_i32(layout_.kv_lens());
  if (step.decode && l2_prefetch_bytes_ > 0 && l2_prefetch_kernel_)
    cuda::l2_prefetch({projection_prefetch(l), pdl_}, s);
  if (step.decode && !ablated(true, attention)) {
    cuda::DecodeAttnArgs a;
    a.out = out;
    a.q = q;
    a.cache = l.kv;
    a.kv_lens = kv_lens;
    // Lengths and block tables are step inputs, copied from the host ahead of the step's
    // kernels (upload_step): the decode kernel may read them before its PDL wait.
    a.indices_ready = true;
    // The kernels before write only each sequence's new row (its last): the rest of the cache
    // may be copied before the PDL wait.
    a.history_ready = true;
    a.scale = attn_scale_;
    if (step.plan && attn_workspace_.size() > 0) {  // plans never outgrow it
      a.plan = step.plan;
      a.workspace = attn_workspace_.data();
    }
    // A named variant that cannot take this call (e.g. no plan in an eager step) defers to auto.
    const auto* named = cuda::decode_attention_registry().find(decode_attn_variant_);
    cuda::decode_attention(a, s, named && named->supports(a) ? decode_attn_variant_ : "auto");
  } else if (!step.decode) {
    cuda::PrefillAttnArgs a;
    a.out = out;
    a.q = q;
    a.cu_q = step_i32(layout_.cu_q());
    a.batch = 1;
    a.max_q_len = static_cast<int>(t);
    a.cache = l.kv;
    a.kv_lens = kv_lens;
    a.scale = attn_scale_;
    a.causal = true;
    cuda::prefill_attention(a, s);
  }
  // The default (staged) keeps the residual projections on the chain: staged's residual block
  // is that same GEMV.
  if (!ablated(step.decode, o_proj))
    residual_matmul(dview(attn_.data(), DType::f16, {t, c.q_dim()}), l.wo, step.decode,
                    fused_ == Fused::all && fused_step(step, l.wo), spread_o_);
}

void CudaSession::ffn_block(const Layer& l, std::int64_t t, bool decode) {
  const LlamaConfig& c = cfg_;
  const TensorView ffn = dview(ffn_.data(), DType::f16, {t, c.ffn_hidden});
  AttnStep shape;
  shape.rows = t;
  shape.decode = decode;
  if (!ablated(decode, gate_up) && !ffn_norm_fused(l, ffn, decode)) {
    if (!ablated(decode, ffn_norm)) norm_rows(l.ffn_norm, t);
    matmul(ffn, h_rows(t), l.w_gate, cuda::Epilogue::swiglu, decode, &l.w_up);
  }
  if (!ablated(decode, down))
    residual_matmul(ffn, l.w_down, decode, fused_ == Fused::all && fused_step(shape, l.w_down));
}

// Logits of rows [first, t) of the chunk into host memory at dst ([t - first, vocab]).
void CudaSession::logits_rows(std::int64_t first, std::int64_t t, float* dst) {
  const LlamaConfig& c = cfg_;
  const cudaStream_t s = stream_.get();
  const std::int64_t rows = t - first;
  const TensorView x = x_rows(t).slice0(first, t);
  const TensorView h = h_rows(rows);
  cuda::rmsnorm_to_half({h, x, output_norm_.view(), c.rms_eps, norm_pdl_}, s);
  const DeviceWeight& head = tied_ ? embd_ : output_;
  for (std::int64_t r = 0; r < rows; r += cuda::kGemvMaxM) {
    const std::int64_t m = std::min<std::int64_t>(cuda::kGemvMaxM, rows - r);
    const TensorView y = dview(logits_dev_.data(), DType::f32, {m, c.vocab_size});
    cuda_engine::matmul(y, h.slice0(r, r + m), head, cuda::Epilogue::none, s, gemv_variant_,
                        nullptr, pdl_);
    cuda::check(
        cudaMemcpyAsync(dst + r * c.vocab_size, y.data, y.nbytes(), cudaMemcpyDeviceToHost, s),
        "cudaMemcpyAsync(logits)");
  }
}

}  // namespace

std::unique_ptr<Session> create_cuda_session(std::shared_ptr<const Model> model,
                                             const SessionOptions& options) {
  return std::make_unique<CudaSession>(std::move(model), options);
}

}  // namespace klab::detail

#endif  // KLAB_HAS_CUDA
