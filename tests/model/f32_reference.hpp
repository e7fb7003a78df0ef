// An f32 forward of a GGUF Llama model, built only from klab::ref and klab core: every weight
// is dequantized once to f32 (from_gguf_blocks + ref::dequantize), and activations, the keys
// and values, softmax and norms stay f32 (the ref ops accumulate in f64). No KV cache: each
// call runs the whole sequence causally from position 0, which is what teacher-forced checks
// need. The only code of its own is the dense matrix product (the ref one reads element by
// element through TensorView and is too slow for a 135M model), a plain f32 dot product split
// over threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/error.hpp"
#include "klab/model.hpp"
#include "klab/quant.hpp"
#include "klab/ref.hpp"

namespace klab::test {

class F32Reference {
 public:
  F32Reference(const Model& model, int threads)
      : cfg_(model.config()), threads_(std::max(1, threads)) {
    const LlamaWeights& w = model.weights();
    check_arg(!w.rope_freqs, "F32Reference", "model", "rope_freqs are not supported");
    embd_ = dequantize(w.token_embd);
    if (!cfg_.tied_embeddings) untied_output_ = dequantize(w.output);
    output_norm_ = vector_of(w.output_norm);
    for (const LayerWeights& lw : w.layers) {
      check_arg(!lw.bq && !lw.bk && !lw.bv, "F32Reference", "model", "QKV biases unsupported");
      layers_.push_back({vector_of(lw.attn_norm), vector_of(lw.ffn_norm), dequantize(lw.wq),
                         dequantize(lw.wk), dequantize(lw.wv), dequantize(lw.wo),
                         dequantize(lw.w_gate), dequantize(lw.w_up), dequantize(lw.w_down)});
    }
    inv_freq_ = ref::rope_inv_freq(static_cast<int>(cfg_.rope_dim), cfg_.rope_theta);
    for (float& f : inv_freq_) f /= cfg_.rope_linear_scale;
  }

  // Logits of every position of `tokens`: [T * vocab], row-major.
  std::vector<float> forward(std::span<const std::int32_t> tokens) const {
    const auto t = static_cast<std::int64_t>(tokens.size());
    const LlamaConfig& c = cfg_;
    HostTensor x(DType::f32, {t, c.hidden});
    for (std::int64_t i = 0; i < t; ++i)
      std::copy_n(embd_.data() + tokens[i] * c.hidden, c.hidden, x.ptr<float>() + i * c.hidden);
    for (const Layer& l : layers_) {
      attention_block(l, x.view(), t);
      ffn_block(l, x.view(), t);
    }
    HostTensor h(DType::f32, {t, c.hidden});
    ref::rmsnorm(h.view(), x.view(), view1(output_norm_), c.rms_eps);
    std::vector<float> logits(static_cast<std::size_t>(t * c.vocab_size));
    matmul(logits.data(), h.ptr<float>(), t, cfg_.tied_embeddings ? embd_ : untied_output_,
           c.vocab_size, c.hidden);
    return logits;
  }

 private:
  struct Layer {
    std::vector<float> attn_norm, ffn_norm, wq, wk, wv, wo, w_gate, w_up, w_down;
  };

  static std::vector<float> vector_of(const WeightRef& w) { return to_f32_vector(w); }

  static std::vector<float> dequantize(const WeightRef& w) {
    std::vector<float> out(static_cast<std::size_t>(w.rows * w.cols));
    const TensorView dst = TensorView::contiguous(out.data(), DType::f32, {w.rows, w.cols});
    GgufBlockType block{};
    switch (w.type) {
      case gguf::TensorType::f32:
        std::copy_n(reinterpret_cast<const float*>(w.data.data()), out.size(), out.data());
        return out;
      case gguf::TensorType::q4_0:
        block = GgufBlockType::q4_0;
        break;
      case gguf::TensorType::q4_1:
        block = GgufBlockType::q4_1;
        break;
      case gguf::TensorType::q8_0:
        block = GgufBlockType::q8_0;
        break;
      default:
        fail("F32Reference: tensor " + w.name + " has a type the reference does not read");
    }
    ref::dequantize(dst, from_gguf_blocks(block, w.rows, w.cols, w.data));
    return out;
  }

  static TensorView view1(const std::vector<float>& v) {
    return TensorView::contiguous(const_cast<float*>(v.data()), DType::f32,
                                  {static_cast<std::int64_t>(v.size())});
  }

  // y[m, n] = sum_k x[m, k] * w[n, k]; x: [rows, k], w: [n_out, k], y: [rows, n_out].
  void matmul(float* y, const float* x, std::int64_t rows, const std::vector<float>& w,
              std::int64_t n_out, std::int64_t k) const {
    const auto part = [&](std::int64_t n0, std::int64_t n1) {
      for (std::int64_t n = n0; n < n1; ++n)
        for (std::int64_t m = 0; m < rows; ++m) y[m * n_out + n] = dot(x + m * k, &w[n * k], k);
    };
    std::vector<std::jthread> workers;
    const std::int64_t per = (n_out + threads_ - 1) / threads_;
    for (int i = 1; i < threads_; ++i)
      workers.emplace_back(part, std::min(n_out, i * per), std::min(n_out, (i + 1) * per));
    part(0, std::min(n_out, per));
  }

  // Eight partial sums: vectorizable without reassociation flags, and more accurate than one.
  static float dot(const float* a, const float* b, std::int64_t k) {
    float acc[8] = {};
    std::int64_t i = 0;
    for (; i + 8 <= k; i += 8)
      for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
    for (; i < k; ++i) acc[0] += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  }

  void attention_block(const Layer& l, const TensorView& x, std::int64_t t) const {
    const LlamaConfig& c = cfg_;
    HostTensor h(DType::f32, {t, c.hidden});
    ref::rmsnorm(h.view(), x, view1(l.attn_norm), c.rms_eps);
    HostTensor q(DType::f32, {t, c.n_heads, c.head_dim});
    HostTensor k(DType::f32, {t, c.n_kv_heads, c.head_dim});
    HostTensor v(DType::f32, {t, c.n_kv_heads, c.head_dim});
    matmul(q.ptr<float>(), h.ptr<float>(), t, l.wq, c.q_dim(), c.hidden);
    matmul(k.ptr<float>(), h.ptr<float>(), t, l.wk, c.kv_dim(), c.hidden);
    matmul(v.ptr<float>(), h.ptr<float>(), t, l.wv, c.kv_dim(), c.hidden);
    std::vector<std::int32_t> positions(static_cast<std::size_t>(t));
    for (std::int64_t i = 0; i < t; ++i) positions[i] = static_cast<std::int32_t>(i);
    const auto style = c.rope_layout == RopeLayout::interleaved ? ref::RopeStyle::interleaved
                                                                : ref::RopeStyle::half_split;
    ref::rope(q.view(), positions, inv_freq_, style);
    ref::rope(k.view(), positions, inv_freq_, style);
    HostTensor attn(DType::f32, {t, c.n_heads, c.head_dim});
    const std::int32_t cu[] = {0, static_cast<std::int32_t>(t)};
    ref::attention_prefill(attn.view(), q.view(), k.view(), v.view(), cu, cu,
                           1.0f / std::sqrt(static_cast<float>(c.head_dim)), true);
    HostTensor proj(DType::f32, {t, c.hidden});
    matmul(proj.ptr<float>(), attn.ptr<float>(), t, l.wo, c.hidden, c.q_dim());
    ref::residual_add(x, x, proj.view());
  }

  void ffn_block(const Layer& l, const TensorView& x, std::int64_t t) const {
    const LlamaConfig& c = cfg_;
    HostTensor h(DType::f32, {t, c.hidden});
    ref::rmsnorm(h.view(), x, view1(l.ffn_norm), c.rms_eps);
    HostTensor gate(DType::f32, {t, c.ffn_hidden});
    HostTensor up(DType::f32, {t, c.ffn_hidden});
    matmul(gate.ptr<float>(), h.ptr<float>(), t, l.w_gate, c.ffn_hidden, c.hidden);
    matmul(up.ptr<float>(), h.ptr<float>(), t, l.w_up, c.ffn_hidden, c.hidden);
    ref::swiglu(gate.view(), gate.view(), up.view());
    HostTensor proj(DType::f32, {t, c.hidden});
    matmul(proj.ptr<float>(), gate.ptr<float>(), t, l.w_down, c.hidden, c.ffn_hidden);
    ref::residual_add(x, x, proj.view());
  }

  const LlamaConfig& cfg_;
  int threads_;
  std::vector<float> embd_, untied_output_, output_norm_;
  std::vector<Layer> layers_;
  std::vector<float> inv_freq_;
};

}  // namespace klab::test
