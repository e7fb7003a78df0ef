// The CPU backend: the Llama graph on klab::cpu kernels. Prefill runs the prompt in chunks of
// up to max_batch tokens as matrix-matrix products; decode is the same path with one token
// (a batch of sequences: one such pass per sequence). Each sequence owns a KV region.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/cpu_matmul.hpp"
#include "klab/cpu_ops.hpp"
#include "klab/error.hpp"
#include "model/backend.hpp"

namespace klab::detail {
namespace {

cpu::WeightMatrix as_matrix(const WeightRef& w) {
  return weight_matrix(w, "CPU");
}

std::vector<float> optional_f32(const std::optional<WeightRef>& w) {
  return w ? to_f32_vector(*w) : std::vector<float>{};
}

// A contiguous f32 view of the first rows * cols elements of a scratch buffer.
TensorView view2(std::vector<float>& buf, std::int64_t rows, std::int64_t cols) {
  return TensorView::contiguous(buf.data(), DType::f32, {rows, cols});
}
TensorView view3(std::vector<float>& buf, std::int64_t rows, std::int64_t heads, std::int64_t dim) {
  return TensorView::contiguous(buf.data(), DType::f32, {rows, heads, dim});
}
TensorView vec_view(const std::vector<float>& v) {
  return TensorView::contiguous(const_cast<float*>(v.data()), DType::f32,
                                {static_cast<std::int64_t>(v.size())});
}

class CpuSession final : public Session {
 public:
  CpuSession(std::shared_ptr<const Model> model, const SessionOptions& options);

  std::string describe() const override {
    return "cpu (" + std::string(cpu::isa_name(cpu::best_isa())) + "), " +
           std::to_string(pool_.size()) + " threads, kv cache " +
           std::string(dtype_name(kv_dtype_)) + " x " + std::to_string(max_context()) +
           (max_sequences() > 1 ? " x " + std::to_string(max_sequences()) + " sequences" : "");
  }

 protected:
  std::span<const float> forward_prefill(std::int64_t seq, std::span<const std::int32_t> tokens,
                                         bool all_logits) override;
  std::span<const float> forward_decode(std::span<const std::int32_t> tokens,
                                        std::span<const std::int32_t> seq_ids) override;
  void copy_cache(std::int64_t src, std::int64_t dst, std::int64_t n) override;

 private:
  struct Layer {
    std::vector<float> attn_norm, ffn_norm, bq, bk, bv;
    cpu::WeightMatrix wq, wk, wv, wo, w_gate, w_up, w_down;
  };

  // Layer `layer`'s cache of sequence `seq`: k, v [max_context, Hkv, D].
  cpu::KvLayer kv_of(std::size_t layer, std::int64_t seq) const;
  void forward_chunk(std::int64_t seq, std::span<const std::int32_t> tokens, std::int64_t pos0,
                     std::int64_t first_logit_row, float* logits);
  void attention_block(const Layer& layer, const cpu::KvLayer& kv, std::int64_t t,
                       std::int64_t pos0);
  void ffn_block(const Layer& layer, std::int64_t t);
  void ensure_scratch(std::int64_t t);

  const LlamaConfig& cfg_;
  cpu::ThreadPool pool_;
  std::int64_t max_batch_;
  DType kv_dtype_;
  cpu::WeightMatrix embd_, output_;
  std::vector<float> output_norm_;
  std::vector<float> inv_freq_;
  cpu::RopeStyle rope_style_;
  float attn_scale_;
  // k, v: [layers, sequences, max_context, Hkv, D] in kv_dtype_.
  HostBuffer k_cache_, v_cache_;
  std::size_t seq_bytes_ = 0;  // one sequence's cache in one layer
  std::vector<Layer> layers_;

  // Scratch, sized for the largest chunk seen.
  cpu::Activations act_;
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, proj_, logits_;
  std::vector<std::int32_t> positions_;
};

CpuSession::CpuSession(std::shared_ptr<const Model> model, const SessionOptions& options)
    : Session(model, session_context(*model, options), options.max_sequences),
      cfg_(model_->config()),
      pool_(options.threads),
      max_batch_(std::max<std::int64_t>(1, options.max_batch)),
      kv_dtype_(options.kv_dtype),
      embd_(as_matrix(model_->weights().token_embd)),
      output_(as_matrix(model_->weights().output)),
      output_norm_(to_f32_vector(model_->weights().output_norm)),
      inv_freq_(rope_inv_freq(*model_)),
      rope_style_(cfg_.rope_layout == RopeLayout::interleaved ? cpu::RopeStyle::interleaved
                                                              : cpu::RopeStyle::half_split),
      attn_scale_(1.0f / std::sqrt(static_cast<float>(cfg_.head_dim))) {
  check_arg(kv_dtype_ == DType::f32 || kv_dtype_ == DType::f16, "cpu session", "kv_dtype",
            "must be f32 or f16, got " + std::string(dtype_name(kv_dtype_)));
  // Pages of the cache are only touched as positions fill, so a long context costs address
  // space up front, not memory.
  seq_bytes_ = static_cast<std::size_t>(max_context() * cfg_.kv_dim()) * dtype_size(kv_dtype_);
  const std::size_t bytes = seq_bytes_ * static_cast<std::size_t>(max_sequences()) *
                            static_cast<std::size_t>(cfg_.n_layers);
  k_cache_ = HostBuffer(bytes);
  v_cache_ = HostBuffer(bytes);
  layers_.reserve(model_->weights().layers.size());
  for (const LayerWeights& w : model_->weights().layers) {
    layers_.push_back(Layer{to_f32_vector(w.attn_norm), to_f32_vector(w.ffn_norm),
                            optional_f32(w.bq), optional_f32(w.bk), optional_f32(w.bv),
                            as_matrix(w.wq), as_matrix(w.wk), as_matrix(w.wv), as_matrix(w.wo),
                            as_matrix(w.w_gate), as_matrix(w.w_up), as_matrix(w.w_down)});
  }
}

cpu::KvLayer CpuSession::kv_of(std::size_t layer, std::int64_t seq) const {
  const std::size_t offset =
      (layer * static_cast<std::size_t>(max_sequences()) + static_cast<std::size_t>(seq)) *
      seq_bytes_;
  const auto view = [&](const HostBuffer& buf) {
    return TensorView::contiguous(
        const_cast<std::uint8_t*>(static_cast<const std::uint8_t*>(buf.data()) + offset), kv_dtype_,
        {max_context(), cfg_.n_kv_heads, cfg_.head_dim});
  };
  return cpu::KvLayer{view(k_cache_), view(v_cache_)};
}

void CpuSession::copy_cache(std::int64_t src, std::int64_t dst, std::int64_t n) {
  const std::size_t bytes = static_cast<std::size_t>(n * cfg_.kv_dim()) * dtype_size(kv_dtype_);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const cpu::KvLayer from = kv_of(l, src), to = kv_of(l, dst);
    std::memcpy(to.k.data, from.k.data, bytes);
    std::memcpy(to.v.data, from.v.data, bytes);
  }
}

void CpuSession::ensure_scratch(std::int64_t t) {
  const auto grow = [](std::vector<float>& v, std::int64_t n) {
    if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  };
  grow(x_, t * cfg_.hidden);
  grow(h_, t * cfg_.hidden);
  grow(proj_, t * cfg_.hidden);
  grow(q_, t * cfg_.q_dim());
  grow(attn_, t * cfg_.q_dim());
  grow(k_, t * cfg_.kv_dim());
  grow(v_, t * cfg_.kv_dim());
  grow(gate_, t * cfg_.ffn_hidden);
  grow(up_, t * cfg_.ffn_hidden);
}

std::span<const float> CpuSession::forward_prefill(std::int64_t seq,
                                                   std::span<const std::int32_t> tokens,
                                                   bool all_logits) {
  const auto n = static_cast<std::int64_t>(tokens.size());
  const std::int64_t vocab = cfg_.vocab_size;
  const std::int64_t pos0 = n_past(seq);
  logits_.resize(static_cast<std::size_t>((all_logits ? n : 1) * vocab));
  for (std::int64_t begin = 0; begin < n; begin += max_batch_) {
    const std::int64_t end = std::min(n, begin + max_batch_);
    // Logits for every row of every chunk, or only for the prompt's last token.
    std::int64_t first_logit_row = end - begin;  // none
    float* dst = nullptr;
    if (all_logits) {
      first_logit_row = 0;
      dst = logits_.data() + begin * vocab;
    } else if (end == n) {
      first_logit_row = end - begin - 1;
      dst = logits_.data();
    }
    forward_chunk(
        seq, tokens.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)),
        pos0 + begin, first_logit_row, dst);
  }
  return logits_;
}

// Each sequence's token as its own one-row pass (the sequences' caches differ).
std::span<const float> CpuSession::forward_decode(std::span<const std::int32_t> tokens,
                                                  std::span<const std::int32_t> seq_ids) {
  const std::int64_t vocab = cfg_.vocab_size;
  logits_.resize(tokens.size() * static_cast<std::size_t>(vocab));
  for (std::size_t i = 0; i < tokens.size(); ++i)
    forward_chunk(seq_ids[i], tokens.subspan(i, 1), n_past(seq_ids[i]), 0,
                  logits_.data() + static_cast<std::int64_t>(i) * vocab);
  return logits_;
}

void CpuSession::forward_chunk(std::int64_t seq, std::span<const std::int32_t> tokens,
                               std::int64_t pos0, std::int64_t first_logit_row, float* logits) {
  const auto t = static_cast<std::int64_t>(tokens.size());
  ensure_scratch(t);
  positions_.resize(static_cast<std::size_t>(t));
  for (std::int64_t i = 0; i < t; ++i) positions_[i] = static_cast<std::int32_t>(pos0 + i);

  cpu::embedding(view2(x_, t, cfg_.hidden), embd_, tokens);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    attention_block(layers_[l], kv_of(l, seq), t, pos0);
    ffn_block(layers_[l], t);
  }
  if (!logits) return;
  const std::int64_t rows = t - first_logit_row;
  const TensorView x_rows = view2(x_, t, cfg_.hidden).slice0(first_logit_row, t);
  cpu::rmsnorm(view2(h_, rows, cfg_.hidden), x_rows, vec_view(output_norm_), cfg_.rms_eps);
  act_.reset(h_.data(), rows, cfg_.hidden);
  cpu::matmul(TensorView::contiguous(logits, DType::f32, {rows, cfg_.vocab_size}), act_, output_,
              pool_);
}

void CpuSession::attention_block(const Layer& l, const cpu::KvLayer& kv, std::int64_t t,
                                 std::int64_t pos0) {
  const LlamaConfig& c = cfg_;
  cpu::rmsnorm(view2(h_, t, c.hidden), view2(x_, t, c.hidden), vec_view(l.attn_norm), c.rms_eps);
  act_.reset(h_.data(), t, c.hidden);  // quantized once, read by Q, K and V
  const cpu::MatmulTarget qkv[] = {{view2(q_, t, c.q_dim()), &l.wq},
                                   {view2(k_, t, c.kv_dim()), &l.wk},
                                   {view2(v_, t, c.kv_dim()), &l.wv}};
  cpu::matmul_many(qkv, act_, pool_);
  if (!l.bq.empty()) cpu::add_bias(view2(q_, t, c.q_dim()), vec_view(l.bq));
  if (!l.bk.empty()) cpu::add_bias(view2(k_, t, c.kv_dim()), vec_view(l.bk));
  if (!l.bv.empty()) cpu::add_bias(view2(v_, t, c.kv_dim()), vec_view(l.bv));

  const TensorView q = view3(q_, t, c.n_heads, c.head_dim);
  const TensorView k = view3(k_, t, c.n_kv_heads, c.head_dim);
  cpu::rope(q, positions_, inv_freq_, rope_style_);
  cpu::rope(k, positions_, inv_freq_, rope_style_);
  cpu::kv_store(kv, k, view3(v_, t, c.n_kv_heads, c.head_dim), pos0);
  cpu::attention(view3(attn_, t, c.n_heads, c.head_dim), q, kv, pos0, attn_scale_, pool_);

  act_.reset(attn_.data(), t, c.q_dim());
  cpu::matmul(view2(proj_, t, c.hidden), act_, l.wo, pool_);
  cpu::add_inplace(view2(x_, t, c.hidden), view2(proj_, t, c.hidden));
}

void CpuSession::ffn_block(const Layer& l, std::int64_t t) {
  const LlamaConfig& c = cfg_;
  cpu::rmsnorm(view2(h_, t, c.hidden), view2(x_, t, c.hidden), vec_view(l.ffn_norm), c.rms_eps);
  act_.reset(h_.data(), t, c.hidden);
  const cpu::MatmulTarget gate_up[] = {{view2(gate_, t, c.ffn_hidden), &l.w_gate},
                                       {view2(up_, t, c.ffn_hidden), &l.w_up}};
  cpu::matmul_many(gate_up, act_, pool_);
  cpu::swiglu(view2(gate_, t, c.ffn_hidden), view2(gate_, t, c.ffn_hidden),
              view2(up_, t, c.ffn_hidden));
  act_.reset(gate_.data(), t, c.ffn_hidden);
  cpu::matmul(view2(proj_, t, c.hidden), act_, l.w_down, pool_);
  cpu::add_inplace(view2(x_, t, c.hidden), view2(proj_, t, c.hidden));
}

}  // namespace

std::unique_ptr<Session> create_cpu_session(std::shared_ptr<const Model> model,
                                            const SessionOptions& options) {
  return std::make_unique<CpuSession>(std::move(model), options);
}

}  // namespace klab::detail
