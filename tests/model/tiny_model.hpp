// Test helper: writes a tiny random Llama-family GGUF with klab::gguf::Writer, keeps the exact
// values each tensor stores, and runs a straightforward forward pass over them with klab::ref.
#pragma once

#include <unistd.h>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "klab/gguf.hpp"
#include "klab/quant.hpp"
#include "klab/ref.hpp"
#include "test_util.hpp"

namespace klab::test {

struct TinySpec {
  std::string arch = "llama";
  std::int64_t layers = 2, hidden = 64, ffn = 96, heads = 4, kv_heads = 2, vocab = 50, ctx = 64;
  std::int64_t rope_dim = 0;  // 0: head dim
  float theta = 10000.0f, eps = 1e-5f;
  gguf::TensorType matrix_type = gguf::TensorType::f32;
  gguf::TensorType embd_type = gguf::TensorType::f32;
  bool tied = false;
  bool qkv_bias = false;
  // Lets a test break the file: called with (name, type, dims) before each tensor is added.
  std::function<void(std::string&, gguf::TensorType&, std::vector<std::int64_t>&)> mutate;
  std::function<void(gguf::Writer&)> extra_metadata;
  std::int64_t head_dim() const { return hidden / heads; }
};

inline std::filesystem::path temp_path(const std::string& stem) {
  static std::atomic<int> counter{0};
  return std::filesystem::temp_directory_path() /
         ("klab_" + stem + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
          ".gguf");
}

// Removes the file when the test ends.
struct TempFile {
  std::filesystem::path path;
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

class TinyModel {
 public:
  explicit TinyModel(TinySpec spec) : spec_(std::move(spec)), file_{temp_path("tiny")} { write(); }
  const std::filesystem::path& path() const { return file_.path; }
  const TinySpec& spec() const { return spec_; }

  // Logits [T, vocab] for every position of `tokens`, computed from scratch with klab::ref.
  std::vector<float> reference_logits(const std::vector<std::int32_t>& tokens) const {
    const auto& s = spec_;
    const std::int64_t t = static_cast<std::int64_t>(tokens.size()), h = s.hidden, d = s.head_dim(),
                       qd = s.heads * d;
    Buf x(t * h);
    const auto& embd = values_.at("token_embd.weight");
    for (std::int64_t i = 0; i < t; ++i)
      std::copy_n(embd.begin() + tokens[i] * h, h, x.begin() + i * h);
    std::vector<std::int32_t> pos(static_cast<std::size_t>(t));
    for (std::int64_t i = 0; i < t; ++i) pos[i] = static_cast<std::int32_t>(i);
    const auto inv_freq =
        ref::rope_inv_freq(static_cast<int>(s.rope_dim ? s.rope_dim : d), s.theta);
    const auto style = s.arch == "qwen2" ? ref::RopeStyle::half_split : ref::RopeStyle::interleaved;
    const std::vector<std::int32_t> cu{0, static_cast<std::int32_t>(t)};
    for (std::int64_t l = 0; l < s.layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      Buf hn = norm(x, t, p + "attn_norm.weight");
      Buf q = linear(hn, t, p + "attn_q.weight"), k = linear(hn, t, p + "attn_k.weight"),
          v = linear(hn, t, p + "attn_v.weight");
      if (s.qkv_bias) {
        add_bias(q, p + "attn_q.bias");
        add_bias(k, p + "attn_k.bias");
        add_bias(v, p + "attn_v.bias");
      }
      ref::rope(view3(q, t, s.heads, d), pos, inv_freq, style);
      ref::rope(view3(k, t, s.kv_heads, d), pos, inv_freq, style);
      Buf attn(t * qd);
      ref::attention_prefill(view3(attn, t, s.heads, d), view3(q, t, s.heads, d),
                             view3(k, t, s.kv_heads, d), view3(v, t, s.kv_heads, d), cu, cu,
                             1.0f / std::sqrt(static_cast<float>(d)), true);
      add(x, linear(attn, t, p + "attn_output.weight"));
      hn = norm(x, t, p + "ffn_norm.weight");
      Buf g = linear(hn, t, p + "ffn_gate.weight"), u = linear(hn, t, p + "ffn_up.weight");
      ref::swiglu(view2(g, t, s.ffn), view2(g, t, s.ffn), view2(u, t, s.ffn));
      add(x, linear(g, t, p + "ffn_down.weight"));
    }
    Buf hn = norm(x, t, "output_norm.weight");
    return linear(hn, t, s.tied ? "token_embd.weight" : "output.weight");
  }

 private:
  using Buf = std::vector<float>;
  static TensorView view2(Buf& b, std::int64_t r, std::int64_t c) {
    return TensorView::contiguous(b.data(), DType::f32, {r, c});
  }
  static TensorView view3(Buf& b, std::int64_t r, std::int64_t h, std::int64_t d) {
    return TensorView::contiguous(b.data(), DType::f32, {r, h, d});
  }
  Buf norm(Buf& x, std::int64_t t, const std::string& name) const {
    Buf out(x.size());
    Buf w = values_.at(name);
    ref::rmsnorm(view2(out, t, spec_.hidden), view2(x, t, spec_.hidden),
                 TensorView::contiguous(w.data(), DType::f32, {spec_.hidden}), spec_.eps);
    return out;
  }
  Buf linear(Buf& x, std::int64_t t, const std::string& name) const {
    const auto& [rows, cols] = shapes_.at(name);
    Buf w = values_.at(name), y(static_cast<std::size_t>(t * rows));
    ref::matmul(view2(y, t, rows), view2(x, t, cols), view2(w, rows, cols));
    return y;
  }
  void add_bias(Buf& y, const std::string& name) const {
    const Buf& b = values_.at(name);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] += b[i % b.size()];
  }
  static void add(Buf& x, const Buf& y) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += y[i];
  }

  // Random values, encoded as `type`; remembers what the file really stores.
  void add_tensor(gguf::Writer& w, std::string name, gguf::TensorType type, std::int64_t rows,
                  std::int64_t cols, float lo, float hi) {
    std::vector<float> v(static_cast<std::size_t>(rows * cols));
    std::uniform_real_distribution<float> dist(lo, hi);
    for (float& f : v) f = dist(rng());
    std::vector<std::uint8_t> bytes;
    const auto push16 = [&](std::uint16_t b) {
      bytes.push_back(static_cast<std::uint8_t>(b & 0xFF));
      bytes.push_back(static_cast<std::uint8_t>(b >> 8));
    };
    using T = gguf::TensorType;
    if (type == T::f32) {
      bytes.resize(v.size() * 4);
      std::memcpy(bytes.data(), v.data(), bytes.size());
    } else if (type == T::f16) {
      for (float& f : v) push16(to_half(f).bits), f = to_float(to_half(f));
    } else if (type == T::bf16) {
      for (float& f : v) push16(to_bf16(f).bits), f = to_float(to_bf16(f));
    } else if (type == T::q4_0 || type == T::q4_1 || type == T::q8_0) {
      const GgufBlockType bt = type == T::q4_0   ? GgufBlockType::q4_0
                               : type == T::q4_1 ? GgufBlockType::q4_1
                                                 : GgufBlockType::q8_0;
      const QuantMatrix qm = ref::quantize(
          TensorView::contiguous(v.data(), DType::f32, {rows, cols}), gguf_block_format(bt));
      bytes = to_gguf_blocks(bt, qm);
      ref::dequantize(TensorView::contiguous(v.data(), DType::f32, {rows, cols}), qm);
    } else {  // any other type: zero bytes of the right size (only for error tests)
      bytes.assign(gguf::tensor_bytes(type, rows * cols), 0);
    }
    values_[name] = std::move(v);
    shapes_[name] = {rows, cols};
    std::vector<std::int64_t> dims =
        rows == 1 ? std::vector<std::int64_t>{cols} : std::vector<std::int64_t>{cols, rows};
    if (spec_.mutate) spec_.mutate(name, type, dims);
    std::int64_t elems = 1;
    for (auto dim : dims) elems *= dim;
    // A mutated shape or type gets zero bytes of its own size.
    if (bytes.size() != gguf::tensor_bytes(type, elems))
      bytes.assign(gguf::tensor_bytes(type, elems), 0);
    w.add_tensor(name, type, dims, bytes);
  }

  void write() {
    const auto& s = spec_;
    using W = gguf::Writer;
    W w;
    const std::string a = s.arch;
    w.set("general.architecture", W::str(a));
    w.set(a + ".block_count", W::u32(static_cast<std::uint32_t>(s.layers)));
    w.set(a + ".embedding_length", W::u32(static_cast<std::uint32_t>(s.hidden)));
    w.set(a + ".feed_forward_length", W::u32(static_cast<std::uint32_t>(s.ffn)));
    w.set(a + ".attention.head_count", W::u32(static_cast<std::uint32_t>(s.heads)));
    w.set(a + ".attention.head_count_kv", W::u32(static_cast<std::uint32_t>(s.kv_heads)));
    w.set(a + ".context_length", W::u32(static_cast<std::uint32_t>(s.ctx)));
    w.set(a + ".rope.freq_base", W::f32(s.theta));
    if (s.rope_dim)
      w.set(a + ".rope.dimension_count", W::u32(static_cast<std::uint32_t>(s.rope_dim)));
    w.set(a + ".attention.layer_norm_rms_epsilon", W::f32(s.eps));
    w.set(a + ".vocab_size", W::u32(static_cast<std::uint32_t>(s.vocab)));
    if (s.extra_metadata) s.extra_metadata(w);
    using T = gguf::TensorType;
    const std::int64_t d = s.head_dim(), qd = s.heads * d, kvd = s.kv_heads * d;
    add_tensor(w, "token_embd.weight", s.embd_type, s.vocab, s.hidden, -1, 1);
    add_tensor(w, "output_norm.weight", T::f32, 1, s.hidden, 0.8f, 1.2f);
    if (!s.tied) add_tensor(w, "output.weight", s.matrix_type, s.vocab, s.hidden, -0.3f, 0.3f);
    for (std::int64_t l = 0; l < s.layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      add_tensor(w, p + "attn_norm.weight", T::f32, 1, s.hidden, 0.8f, 1.2f);
      add_tensor(w, p + "attn_q.weight", s.matrix_type, qd, s.hidden, -0.3f, 0.3f);
      add_tensor(w, p + "attn_k.weight", s.matrix_type, kvd, s.hidden, -0.3f, 0.3f);
      add_tensor(w, p + "attn_v.weight", s.matrix_type, kvd, s.hidden, -0.3f, 0.3f);
      if (s.qkv_bias) {
        add_tensor(w, p + "attn_q.bias", T::f32, 1, qd, -0.5f, 0.5f);
        add_tensor(w, p + "attn_k.bias", T::f32, 1, kvd, -0.5f, 0.5f);
        add_tensor(w, p + "attn_v.bias", T::f32, 1, kvd, -0.5f, 0.5f);
      }
      add_tensor(w, p + "attn_output.weight", s.matrix_type, s.hidden, qd, -0.2f, 0.2f);
      add_tensor(w, p + "ffn_norm.weight", T::f32, 1, s.hidden, 0.8f, 1.2f);
      add_tensor(w, p + "ffn_gate.weight", s.matrix_type, s.ffn, s.hidden, -0.3f, 0.3f);
      add_tensor(w, p + "ffn_up.weight", s.matrix_type, s.ffn, s.hidden, -0.3f, 0.3f);
      add_tensor(w, p + "ffn_down.weight", s.matrix_type, s.hidden, s.ffn, -0.2f, 0.2f);
    }
    w.write(file_.path);
  }

  TinySpec spec_;
  TempFile file_;
  std::map<std::string, std::vector<float>> values_;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> shapes_;
};

}  // namespace klab::test
