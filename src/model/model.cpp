// Model::load: the config, every tensor checked for presence, type and shape, views into the
// mapped file, and the tokenizer.
#include <cstring>
#include <functional>
#include <string>

#include "klab/error.hpp"
#include "klab/hf.hpp"
#include "klab/model.hpp"
#include "klab/quantize.hpp"
#include "model/hf_model.hpp"
#include "model/quantize_expand.hpp"

namespace klab {
namespace {

std::string dims_str(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

class WeightLoader {
 public:
  WeightLoader(const gguf::File& file) : file_(file) {}

  // W[rows, cols]: GGUF dims {cols, rows}.
  WeightRef matrix(const std::string& name, std::int64_t rows, std::int64_t cols) const {
    const gguf::TensorInfo& info = require(name);
    expect_dims(info, {cols, rows});
    if (!is_supported_matrix_type(info.type) && !is_klab_group_type(info.type))
      bad(info, "has type " + std::string(gguf::type_name(info.type)) +
                    ", which klab cannot compute with (supported: F32, F16, BF16, Q4_0, Q4_1, "
                    "Q8_0, KLAB_Q*_G64/G128)");
    if (gguf::block_elems(info.type) > 1 && cols % gguf::block_elems(info.type) != 0)
      bad(info, "has rows of " + std::to_string(cols) + " elements, not whole " +
                    std::string(gguf::type_name(info.type)) + " blocks");
    return view(info, rows, cols);
  }

  WeightRef vector(const std::string& name, std::int64_t n) const {
    const gguf::TensorInfo& info = require(name);
    return vector_of(info, n);
  }

  std::optional<WeightRef> optional_vector(const std::string& name, std::int64_t n) const {
    const gguf::TensorInfo* info = file_.find_tensor(name);
    if (!info) return std::nullopt;
    return vector_of(*info, n);
  }

 private:
  const gguf::TensorInfo& require(const std::string& name) const {
    const gguf::TensorInfo* info = file_.find_tensor(name);
    if (!info) fail(file_.path().string() + ": missing tensor '" + name + "'");
    return *info;
  }

  WeightRef vector_of(const gguf::TensorInfo& info, std::int64_t n) const {
    expect_dims(info, {n});
    if (!is_supported_vector_type(info.type))
      bad(info,
          "has type " + std::string(gguf::type_name(info.type)) + ", expected F32, F16 or BF16");
    return view(info, 1, n);
  }

  void expect_dims(const gguf::TensorInfo& info, const std::vector<std::int64_t>& dims) const {
    if (info.dims != dims)
      bad(info, "has shape " + dims_str(info.dims) + ", expected " + dims_str(dims) +
                    " (GGUF order, innermost first)");
  }

  WeightRef view(const gguf::TensorInfo& info, std::int64_t rows, std::int64_t cols) const {
    return {info.name, info.type, rows, cols, file_.tensor_data(info)};
  }

  [[noreturn]] void bad(const gguf::TensorInfo& info, const std::string& what) const {
    fail(file_.path().string() + ": tensor '" + info.name + "' " + what);
  }

  const gguf::File& file_;
};

LlamaWeights load_weights(const gguf::File& file, const LlamaConfig& c) {
  const WeightLoader w(file);
  LlamaWeights out;
  out.token_embd = w.matrix("token_embd.weight", c.vocab_size, c.hidden);
  out.output_norm = w.vector("output_norm.weight", c.hidden);
  out.output =
      c.tied_embeddings ? out.token_embd : w.matrix("output.weight", c.vocab_size, c.hidden);
  out.rope_freqs = w.optional_vector("rope_freqs.weight", c.rope_dim / 2);
  out.layers.reserve(static_cast<std::size_t>(c.n_layers));
  for (std::int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights l;
    l.attn_norm = w.vector(p + "attn_norm.weight", c.hidden);
    l.wq = w.matrix(p + "attn_q.weight", c.q_dim(), c.hidden);
    l.wk = w.matrix(p + "attn_k.weight", c.kv_dim(), c.hidden);
    l.wv = w.matrix(p + "attn_v.weight", c.kv_dim(), c.hidden);
    l.wo = w.matrix(p + "attn_output.weight", c.hidden, c.q_dim());
    if (c.qkv_bias) {
      l.bq = w.vector(p + "attn_q.bias", c.q_dim());
      l.bk = w.vector(p + "attn_k.bias", c.kv_dim());
      l.bv = w.vector(p + "attn_v.bias", c.kv_dim());
    } else {  // llama-architecture checkpoints may still carry biases (e.g. converted ones)
      l.bq = w.optional_vector(p + "attn_q.bias", c.q_dim());
      l.bk = w.optional_vector(p + "attn_k.bias", c.kv_dim());
      l.bv = w.optional_vector(p + "attn_v.bias", c.kv_dim());
    }
    l.ffn_norm = w.vector(p + "ffn_norm.weight", c.hidden);
    l.w_gate = w.matrix(p + "ffn_gate.weight", c.ffn_hidden, c.hidden);
    l.w_up = w.matrix(p + "ffn_up.weight", c.ffn_hidden, c.hidden);
    l.w_down = w.matrix(p + "ffn_down.weight", c.hidden, c.ffn_hidden);
    out.layers.push_back(std::move(l));
  }
  return out;
}

void for_each_weight(const LlamaWeights& w, const std::function<void(const WeightRef&)>& fn) {
  fn(w.token_embd);
  fn(w.output_norm);
  if (w.output.data.data() != w.token_embd.data.data()) fn(w.output);
  for (const auto& l : w.layers) {
    for (const WeightRef* r :
         {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down})
      fn(*r);
    for (const auto* b : {&l.bq, &l.bk, &l.bv})
      if (*b) fn(**b);
  }
}

// Reads one byte per page so that the kernel maps the whole file now, with progress.
void prefault(const LlamaWeights& w, std::size_t total, const LoadOptions& options) {
  constexpr std::size_t kPage = 4096;
  std::size_t done = 0;
  unsigned sink = 0;
  for_each_weight(w, [&](const WeightRef& r) {
    for (std::size_t i = 0; i < r.data.size(); i += kPage) sink += r.data[i];
    done += r.data.size();
    if (options.progress) options.progress(total ? static_cast<double>(done) / total : 1.0);
  });
  volatile unsigned keep = sink;  // the reads must happen
  (void)keep;
}

std::shared_ptr<const Model> finish_load(std::shared_ptr<const Model> model,
                                         const LoadOptions& options) {
  if (options.prefault) prefault(model->weights(), model->weight_bytes(), options);
  if (options.progress) options.progress(1.0);
  return model;
}

}  // namespace

bool is_supported_matrix_type(gguf::TensorType t) {
  using T = gguf::TensorType;
  return t == T::f32 || t == T::f16 || t == T::bf16 || t == T::q4_0 || t == T::q4_1 || t == T::q8_0;
}

bool is_supported_vector_type(gguf::TensorType t) {
  using T = gguf::TensorType;
  return t == T::f32 || t == T::f16 || t == T::bf16;
}

std::vector<float> to_f32_vector(const WeightRef& w) {
  const auto n = static_cast<std::size_t>(w.rows * w.cols);
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (w.type) {
      case gguf::TensorType::f32:
        std::memcpy(&out[i], w.data.data() + 4 * i, 4);
        break;
      case gguf::TensorType::f16:
      case gguf::TensorType::bf16: {
        std::uint16_t bits;
        std::memcpy(&bits, w.data.data() + 2 * i, 2);
        out[i] = w.type == gguf::TensorType::f16 ? f16_bits_to_f32(bits) : bf16_bits_to_f32(bits);
        break;
      }
      default:
        fail("tensor '" + w.name + "': cannot read type " + std::string(gguf::type_name(w.type)) +
             " as a float vector");
    }
  }
  return out;
}

Model::Model(gguf::File file, LlamaConfig config, LlamaWeights weights,
             std::optional<Tokenizer> tokenizer)
    : file_(std::move(file)),
      path_(file_->path()),
      config_(std::move(config)),
      weights_(std::move(weights)),
      tokenizer_(std::move(tokenizer)) {}

Model::Model(std::filesystem::path path, std::shared_ptr<const void> storage, LlamaConfig config,
             LlamaWeights weights, std::optional<Tokenizer> tokenizer, std::string chat_template)
    : path_(std::move(path)),
      storage_(std::move(storage)),
      chat_template_(std::move(chat_template)),
      config_(std::move(config)),
      weights_(std::move(weights)),
      tokenizer_(std::move(tokenizer)) {}

const gguf::File& Model::file() const {
  if (!file_) fail(path_.string() + ": not a GGUF model (loaded from a Hugging Face directory)");
  return *file_;
}

std::shared_ptr<const Model> Model::load(const std::filesystem::path& path,
                                         const LoadOptions& options) {
  if (hf::is_checkpoint_dir(path)) return finish_load(detail::load_hf_model(path), options);
  gguf::File file = gguf::File::open(path);
  LlamaConfig config = LlamaConfig::from_gguf(file);
  LlamaWeights weights = load_weights(file, config);
  // klab's group-64/128 types run as the equivalent standard blocks (src/model/quantize_expand).
  std::shared_ptr<const void> expanded = detail::expand_klab_group_types(weights);
  std::optional<Tokenizer> tokenizer;
  if (file.find("tokenizer.ggml.model")) {
    tokenizer = Tokenizer::create(tokenizer_data_from_gguf(file));
    if (tokenizer->vocab_size() > config.vocab_size)
      fail(path.string() + ": the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
           " tokens but the model only " + std::to_string(config.vocab_size));
  }
  // Spans into the mapping stay valid when the File moves: the mapping itself does not move.
  auto model = std::make_shared<Model>(std::move(file), std::move(config), std::move(weights),
                                       std::move(tokenizer));
  model->storage_ = std::move(expanded);
  return finish_load(std::move(model), options);
}

const Tokenizer& Model::tokenizer() const {
  if (!tokenizer_)
    fail(path().string() + ": the model has no tokenizer (tokenizer.ggml.* / tokenizer.json)");
  return *tokenizer_;
}

std::string Model::chat_template() const {
  if (!file_) return chat_template_;
  const gguf::Value* v = file_->find("tokenizer.chat_template");
  return v && v->kind == gguf::Value::Kind::string ? v->as_string() : std::string();
}

std::size_t Model::weight_bytes() const {
  std::size_t total = 0;
  for_each_weight(weights_, [&](const WeightRef& r) { total += r.data.size(); });
  return total;
}

}  // namespace klab
