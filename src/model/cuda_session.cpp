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
// Prefill runs the prompt in chunks of max_batch tokens through the quantized GEMM (dense
// weights: GEMV, 8 rows at a time). Only the logits copy synchronizes the host with the GPU.
#if KLAB_HAS_CUDA

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <type_traits>
#include <string>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/cuda/attention.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/gemv.hpp"
#include "klab/cuda/kv_cache.hpp"
#include "klab/cuda/model_kernels.hpp"
#include "klab/cuda/qkv.hpp"
#include "klab/device_info.hpp"
#include "klab/error.hpp"
#include "model/backend.hpp"
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

// Per-chunk integer inputs, one host->device copy: [kv_len, cu_q = {0, T}, pad, ids[R],
// positions[R]] with R = T rounded up to 4 (16-byte aligned arrays).
struct StepLayout {
  std::int64_t tokens;
  std::int64_t padded() const { return round4(tokens); }
  std::int64_t ids() const { return 4; }
  std::int64_t positions() const { return 4 + padded(); }
  std::int64_t total() const { return 4 + 2 * padded(); }
};

class CudaSession final : public Session {
 public:
  CudaSession(std::shared_ptr<const Model> model, const SessionOptions& options);

  std::span<const float> prefill(std::span<const std::int32_t> tokens, bool all_logits) override;
  std::int64_t n_past() const override { return n_past_; }
  std::int64_t max_context() const override { return max_context_; }
  void reset() override { n_past_ = 0; }
  void truncate(std::int64_t n) override {
    check_arg(n >= 0 && n <= n_past_, "Session::truncate", "n",
              std::to_string(n) + " is outside [0, " + std::to_string(n_past_) + "]");
    n_past_ = n;  // later writes overwrite the dropped positions
  }
  std::string describe() const override { return description_; }

 private:
  struct Layer {
    DeviceTensor attn_norm, ffn_norm, qkv_bias;  // qkv_bias empty when the model has none
    DeviceWeight wqkv, wo, w_gate, w_up, w_down;
    cuda::KvCacheView kv;
  };

  void upload_weights();
  void allocate_buffers();
  void forward_chunk(std::span<const std::int32_t> tokens, std::int64_t pos0,
                     std::int64_t first_logit_row, float* logits);
  void attention_block(const Layer& l, std::int64_t t, const StepLayout& s);
  void ffn_block(const Layer& l, std::int64_t t);
  void logits_rows(std::int64_t first, std::int64_t t, float* dst);
  void decode_body(const StepLayout& layout);
  void capture_decode_graph(const StepLayout& layout);

  struct GraphExecDeleter {
    void operator()(cudaGraphExec_t g) const { cudaGraphExecDestroy(g); }
  };
  using GraphExec = std::unique_ptr<std::remove_pointer_t<cudaGraphExec_t>, GraphExecDeleter>;
  const std::int32_t* step_i32(std::int64_t offset) const {
    return static_cast<const std::int32_t*>(step_dev_.data()) + offset;
  }
  TensorView x_rows(std::int64_t t) const { return dview(x_.data(), DType::f32, {t, cfg_.hidden}); }
  TensorView h_rows(std::int64_t t) const { return dview(h_.data(), DType::f16, {t, cfg_.hidden}); }

  const LlamaConfig& cfg_;
  std::int64_t max_context_;
  std::int64_t chunk_;  // tokens per forward pass (max_batch, at most the context)
  std::string gemv_variant_;
  Stream stream_;
  int sm_count_ = 0;

  // Weights.
  DeviceWeight embd_;  // also the LM head when tied
  DeviceWeight output_;
  bool tied_ = false;
  DeviceTensor output_norm_, inv_freq_;
  std::vector<Layer> layers_;
  std::size_t weight_bytes_ = 0;

  // KV cache: k, v each [layers, max_context, Hkv, D] f16.
  DeviceBuffer k_cache_, v_cache_;
  cuda::DecodePlan decode_plan_;  // for max_context: sizes the workspace
  cuda::DecodePlan step_plan_;    // for the current decode step's length
  DeviceBuffer attn_workspace_;

  // Activations, [chunk, *].
  DeviceBuffer x_, h_, qkv_, q_, attn_, ffn_, logits_dev_;
  DeviceBuffer step_dev_, seq_zeros_;
  PinnedArray<std::int32_t> step_host_;
  PinnedArray<float> logits_host_;  // [vocab]: the last token's logits
  std::vector<float> all_logits_;
  float attn_scale_;
  std::string description_;
  std::int64_t n_past_ = 0;
  // One decode step (embedding, every layer, final norm, LM head) captured once and replayed:
  // its inputs (ids, positions, kv length) live in step_dev_, so the graph never changes.
  // KLAB_CUDA_GRAPHS=0 turns it off (for comparisons); a failed capture falls back silently.
  bool use_graphs_ = true;
  GraphExec decode_graph_;
};

std::int64_t context_of(const LlamaConfig& c, const SessionOptions& o) {
  const std::int64_t ctx = o.max_context > 0 ? o.max_context : c.context_length;
  if (ctx > c.context_length)
    fail("a context of " + std::to_string(ctx) + " tokens exceeds the model's " +
         std::to_string(c.context_length));
  return ctx;
}

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

CudaSession::CudaSession(std::shared_ptr<const Model> model, const SessionOptions& options)
    : Session(std::move(model)),
      cfg_(model_->config()),
      max_context_(context_of(cfg_, options)),
      chunk_(std::clamp<std::int64_t>(options.max_batch, 1, max_context_)),
      gemv_variant_(cuda_engine::gemv_variant_from_env()),
      step_host_(static_cast<std::size_t>(StepLayout{chunk_}.total())),
      logits_host_(static_cast<std::size_t>(cfg_.vocab_size)),
      attn_scale_(1.0f / std::sqrt(static_cast<float>(cfg_.head_dim))) {
  check_supported(cfg_, options);
  if (const char* g = std::getenv("KLAB_CUDA_GRAPHS"); g && std::string_view(g) == "0")
    use_graphs_ = false;
  const DeviceInfo info = cuda_device_info();
  sm_count_ = info.sm_count;
  upload_weights();
  allocate_buffers();
  const std::string layer_format = layers_.empty() ? "-" : layers_.front().wqkv.format();
  description_ = "cuda (" + info.name + "), weights " + layer_format + " (embeddings " +
                 embd_.format() + ") " + std::to_string(weight_bytes_ >> 20) +
                 " MiB on device, kv cache f16 x " + std::to_string(max_context_) + ", gemv " +
                 gemv_variant_ + (use_graphs_ ? ", decode graph" : ", no graphs");
}

void CudaSession::upload_weights() {
  const LlamaWeights& w = model_->weights();
  const WeightRef* embd[] = {&w.token_embd};
  embd_ = DeviceWeight::upload(embd);
  tied_ = w.output.data.data() == w.token_embd.data.data();
  if (!tied_) {
    const WeightRef* out[] = {&w.output};
    output_ = DeviceWeight::upload(out);
  }
  output_norm_ = cuda_engine::upload_f32(to_f32_vector(w.output_norm));
  inv_freq_ = cuda_engine::upload_f32(rope_inv_freq(*model_));
  weight_bytes_ = embd_.device_bytes() + (tied_ ? 0 : output_.device_bytes());

  layers_.reserve(w.layers.size());
  for (const LayerWeights& lw : w.layers) {
    Layer l;
    l.attn_norm = cuda_engine::upload_f32(to_f32_vector(lw.attn_norm));
    l.ffn_norm = cuda_engine::upload_f32(to_f32_vector(lw.ffn_norm));
    const WeightRef* qkv[] = {&lw.wq, &lw.wk, &lw.wv};
    l.wqkv = DeviceWeight::upload(qkv);
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
    auto [gate, up] = cuda_engine::upload_pair(lw.w_gate, lw.w_up);
    l.w_gate = std::move(gate);
    l.w_up = std::move(up);
    const WeightRef* down[] = {&lw.w_down};
    l.w_down = DeviceWeight::upload(down);
    weight_bytes_ += l.wqkv.device_bytes() + l.wo.device_bytes() + l.w_gate.device_bytes() +
                     l.w_up.device_bytes() + l.w_down.device_bytes();
    layers_.push_back(std::move(l));
  }
}

void CudaSession::allocate_buffers() {
  const LlamaConfig& c = cfg_;
  const std::int64_t layer_elems = max_context_ * c.kv_dim();
  const auto kv_bytes = static_cast<std::size_t>(layer_elems * c.n_layers * 2);
  k_cache_ = DeviceBuffer(kv_bytes);
  v_cache_ = DeviceBuffer(kv_bytes);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const auto offset = static_cast<std::size_t>(layer_elems) * i * 2;
    auto* k = static_cast<std::uint8_t*>(k_cache_.data()) + offset;
    auto* v = static_cast<std::uint8_t*>(v_cache_.data()) + offset;
    layers_[i].kv = cuda::make_contiguous_kv_cache(
        dview(k, DType::f16, {1, max_context_, c.n_kv_heads, c.head_dim}),
        dview(v, DType::f16, {1, max_context_, c.n_kv_heads, c.head_dim}));
  }
  // Split-KV plan for the longest sequence; each step re-plans for its length within it.
  const std::int32_t longest = static_cast<std::int32_t>(max_context_);
  decode_plan_ = cuda::plan_decode_attention(
      1, static_cast<int>(c.n_heads), static_cast<int>(c.n_kv_heads), static_cast<int>(c.head_dim),
      DType::f16, {&longest, 1}, sm_count_);
  if (decode_plan_.workspace_bytes > 0)
    attn_workspace_ = DeviceBuffer(decode_plan_.workspace_bytes);

  const auto rows = static_cast<std::size_t>(chunk_);
  const auto qkv_dim = static_cast<std::size_t>(c.q_dim() + 2 * c.kv_dim());
  x_ = DeviceBuffer(rows * static_cast<std::size_t>(c.hidden) * 4);
  h_ = DeviceBuffer(rows * static_cast<std::size_t>(c.hidden) * 2);
  qkv_ = DeviceBuffer(rows * qkv_dim * 2);
  q_ = DeviceBuffer(rows * static_cast<std::size_t>(c.q_dim()) * 2);
  attn_ = DeviceBuffer(rows * static_cast<std::size_t>(c.q_dim()) * 2);
  ffn_ = DeviceBuffer(rows * static_cast<std::size_t>(c.ffn_hidden) * 2);
  logits_dev_ = DeviceBuffer(static_cast<std::size_t>(cuda::kGemvMaxM * c.vocab_size) * 4);
  step_dev_ = DeviceBuffer(static_cast<std::size_t>(StepLayout{chunk_}.total()) * 4);
  seq_zeros_ = DeviceBuffer(rows * 4);
  cuda::check(cudaMemsetAsync(seq_zeros_.data(), 0, seq_zeros_.size(), stream_.get()),
              "cudaMemsetAsync");
  cuda::check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
}

std::span<const float> CudaSession::prefill(std::span<const std::int32_t> tokens, bool all_logits) {
  check_arg(!tokens.empty(), "Session::prefill", "tokens", "is empty");
  check_prefill(*model_, tokens, n_past_, max_context_);
  const auto n = static_cast<std::int64_t>(tokens.size());
  const std::int64_t vocab = cfg_.vocab_size;
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
        tokens.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)),
        n_past_ + begin, first_logit_row, dst);
  }
  cuda::check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
  n_past_ += n;
  if (all_logits) return all_logits_;
  return {logits_host_.data(), static_cast<std::size_t>(vocab)};
}

void CudaSession::forward_chunk(std::span<const std::int32_t> tokens, std::int64_t pos0,
                                std::int64_t first_logit_row, float* logits) {
  const auto t = static_cast<std::int64_t>(tokens.size());
  const cudaStream_t s = stream_.get();
  // The previous chunk's copy of the step inputs may still be queued: let it finish before
  // the pinned buffer is rewritten (free at decode: the last logits copy already waited).
  cuda::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  const StepLayout layout{t};
  std::int32_t* host = step_host_.data();
  host[0] = static_cast<std::int32_t>(pos0 + t);  // kv length after this chunk
  host[1] = 0;
  host[2] = static_cast<std::int32_t>(t);
  host[3] = 0;
  for (std::int64_t i = 0; i < t; ++i) {
    host[layout.ids() + i] = tokens[static_cast<std::size_t>(i)];
    host[layout.positions() + i] = static_cast<std::int32_t>(pos0 + i);
  }
  cuda::check(cudaMemcpyAsync(step_dev_.data(), host, static_cast<std::size_t>(layout.total()) * 4,
                              cudaMemcpyHostToDevice, s),
              "cudaMemcpyAsync(step inputs)");

  if (t == 1 && logits && first_logit_row == 0 && use_graphs_) {
    if (!decode_graph_) capture_decode_graph(layout);
    if (decode_graph_) {
      cuda::check(cudaGraphLaunch(decode_graph_.get(), s), "cudaGraphLaunch(decode step)");
      cuda::check(cudaMemcpyAsync(logits, logits_dev_.data(),
                                  static_cast<std::size_t>(cfg_.vocab_size) * 4,
                                  cudaMemcpyDeviceToHost, s),
                  "cudaMemcpyAsync(logits)");
      return;
    }
  }
  if (t == 1 && attn_workspace_.size() > 0 && !decode_graph_) {  // split-KV for this length
    const auto len = static_cast<std::int32_t>(pos0 + 1);
    step_plan_ = cuda::plan_decode_attention(
        1, static_cast<int>(cfg_.n_heads), static_cast<int>(cfg_.n_kv_heads),
        static_cast<int>(cfg_.head_dim), DType::f16, {&len, 1}, sm_count_);
    if (step_plan_.workspace_bytes > attn_workspace_.size()) step_plan_ = decode_plan_;
  }

  cuda::EmbeddingArgs embed;
  embed.out = x_rows(t);
  embed.ids = dview(const_cast<std::int32_t*>(step_i32(layout.ids())), DType::i32, {t});
  if (embd_.quantized())
    embed.quant = embd_.quant().plain();
  else
    embed.dense = embd_.dense();
  cuda::embedding_rows(embed, s);

  for (const Layer& l : layers_) {
    attention_block(l, t, layout);
    ffn_block(l, t);
  }
  if (logits) logits_rows(first_logit_row, t, logits);
}

// The whole device side of a one-token step, logits left in logits_dev_ (graph body).
void CudaSession::decode_body(const StepLayout& layout) {
  const cudaStream_t s = stream_.get();
  cuda::EmbeddingArgs embed;
  embed.out = x_rows(1);
  embed.ids = dview(const_cast<std::int32_t*>(step_i32(layout.ids())), DType::i32, {1});
  if (embd_.quantized())
    embed.quant = embd_.quant().plain();
  else
    embed.dense = embd_.dense();
  cuda::embedding_rows(embed, s);
  for (const Layer& l : layers_) {
    attention_block(l, 1, layout);
    ffn_block(l, 1);
  }
  const TensorView h = h_rows(1);
  cuda::rmsnorm_to_half({h, x_rows(1), output_norm_.view(), cfg_.rms_eps}, s);
  const TensorView y = dview(logits_dev_.data(), DType::f32, {1, cfg_.vocab_size});
  cuda_engine::matmul(y, h, tied_ ? embd_ : output_, cuda::Epilogue::none, s, gemv_variant_);
}

void CudaSession::capture_decode_graph(const StepLayout& layout) {
  const cudaStream_t s = stream_.get();
  // The split-KV plan for the longest context stays valid for every shorter length (each
  // block derives its range from the device-side length), so the graph can bake it in.
  step_plan_ = decode_plan_;
  cudaGraph_t graph = nullptr;
  cuda::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal),
              "cudaStreamBeginCapture");
  bool captured = true;
  try {
    decode_body(layout);
  } catch (const Error&) {
    captured = false;  // some launch is not capturable: run without graphs
  }
  const cudaError_t end = cudaStreamEndCapture(s, &graph);
  cudaGraphExec_t exec = nullptr;
  if (captured && end == cudaSuccess && graph &&
      cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess) {
    decode_graph_.reset(exec);
  } else {
    (void)cudaGetLastError();
    use_graphs_ = false;
  }
  if (graph) cudaGraphDestroy(graph);
}

void CudaSession::attention_block(const Layer& l, std::int64_t t, const StepLayout& layout) {
  const LlamaConfig& c = cfg_;
  const cudaStream_t s = stream_.get();
  const std::int64_t qkv_dim = c.q_dim() + 2 * c.kv_dim();
  cuda::rmsnorm_to_half({h_rows(t), x_rows(t), l.attn_norm.view(), c.rms_eps}, s);
  const TensorView qkv = dview(qkv_.data(), DType::f16, {t, qkv_dim});
  cuda_engine::matmul(qkv, h_rows(t), l.wqkv, cuda::Epilogue::none, s, gemv_variant_);
  if (l.qkv_bias.view().data) cuda::add_bias({qkv, l.qkv_bias.view()}, s);

  const TensorView q = dview(q_.data(), DType::f16, {t, c.n_heads, c.head_dim});
  cuda::QkvRopeKvWriteArgs split;
  split.q = q;
  split.cache = l.kv;
  split.qkv = qkv;
  split.positions = dview(const_cast<std::int32_t*>(step_i32(layout.positions())), DType::i32, {t});
  split.seq_ids = dview(seq_zeros_.data(), DType::i32, {t});
  split.freqs.inv_freq = inv_freq_.view();
  split.freqs.theta = c.rope_theta;
  split.freqs.rot_dim = static_cast<int>(c.rope_dim);
  split.freqs.style = c.rope_layout == RopeLayout::interleaved ? cuda::RopeStyle::interleaved
                                                               : cuda::RopeStyle::half_split;
  cuda::qkv_rope_kv_write(split, s);

  const TensorView out = dview(attn_.data(), DType::f16, {t, c.n_heads, c.head_dim});
  const std::int32_t* kv_len = step_i32(0);
  if (t == 1) {
    cuda::DecodeAttnArgs a;
    a.out = out;
    a.q = q;
    a.cache = l.kv;
    a.kv_lens = kv_len;
    a.scale = attn_scale_;
    if (attn_workspace_.size() > 0) {
      a.plan = step_plan_;
      a.workspace = attn_workspace_.data();
    }
    cuda::decode_attention(a, s);
  } else {
    cuda::PrefillAttnArgs a;
    a.out = out;
    a.q = q;
    a.cu_q = step_i32(1);
    a.batch = 1;
    a.max_q_len = static_cast<int>(t);
    a.cache = l.kv;
    a.kv_lens = kv_len;
    a.scale = attn_scale_;
    a.causal = true;
    cuda::prefill_attention(a, s);
  }
  cuda_engine::matmul(x_rows(t), dview(attn_.data(), DType::f16, {t, c.q_dim()}), l.wo,
                      cuda::Epilogue::residual, s, gemv_variant_);
}

void CudaSession::ffn_block(const Layer& l, std::int64_t t) {
  const LlamaConfig& c = cfg_;
  const cudaStream_t s = stream_.get();
  cuda::rmsnorm_to_half({h_rows(t), x_rows(t), l.ffn_norm.view(), c.rms_eps}, s);
  const TensorView ffn = dview(ffn_.data(), DType::f16, {t, c.ffn_hidden});
  cuda_engine::matmul(ffn, h_rows(t), l.w_gate, cuda::Epilogue::swiglu, s, gemv_variant_, &l.w_up);
  cuda_engine::matmul(x_rows(t), ffn, l.w_down, cuda::Epilogue::residual, s, gemv_variant_);
}

// Logits of rows [first, t) of the chunk into host memory at dst ([t - first, vocab]).
void CudaSession::logits_rows(std::int64_t first, std::int64_t t, float* dst) {
  const LlamaConfig& c = cfg_;
  const cudaStream_t s = stream_.get();
  const std::int64_t rows = t - first;
  const TensorView x = x_rows(t).slice0(first, t);
  const TensorView h = h_rows(rows);
  cuda::rmsnorm_to_half({h, x, output_norm_.view(), c.rms_eps}, s);
  const DeviceWeight& head = tied_ ? embd_ : output_;
  for (std::int64_t r = 0; r < rows; r += cuda::kGemvMaxM) {
    const std::int64_t m = std::min<std::int64_t>(cuda::kGemvMaxM, rows - r);
    const TensorView y = dview(logits_dev_.data(), DType::f32, {m, c.vocab_size});
    cuda_engine::matmul(y, h.slice0(r, r + m), head, cuda::Epilogue::none, s, gemv_variant_);
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
