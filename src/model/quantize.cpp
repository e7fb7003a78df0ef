// klab quantize: load the source through Model::load (HF directory or GGUF: one path for both),
// then write every tensor under its GGUF name in the requested type.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "klab/error.hpp"
#include "klab/hf.hpp"
#include "klab/model.hpp"
#include "klab/quantize.hpp"
#include "klab/ref.hpp"

namespace klab {
namespace {

using T = gguf::TensorType;
using gguf::Writer;

bool is_float_type(T t) {
  return t == T::f32 || t == T::f16 || t == T::bf16;
}

// llama.cpp's general.file_type for the main weight type (LLAMA_FTYPE_*); none for klab's types.
std::optional<std::uint32_t> llama_file_type(T t) {
  switch (t) {
    case T::f32:
      return 0;
    case T::f16:
      return 1;
    case T::q4_0:
      return 2;
    case T::q4_1:
      return 3;
    case T::q8_0:
      return 7;
    case T::bf16:
      return 32;
    default:
      return std::nullopt;
  }
}

// The GGUF architecture an HF model_type becomes, and whether its Q/K need permuting.
struct TargetArch {
  std::string name;
  bool permute_qk;
};
TargetArch target_arch(const LlamaConfig& c, bool from_hf) {
  if (!from_hf) return {c.arch, false};            // a GGUF source already has its arch's layout
  if (c.arch == "qwen2") return {"qwen2", false};  // GGUF qwen2 keeps HF's half-split order
  return {"llama", c.rope_layout == RopeLayout::half_split};  // llama, mistral
}

float element(const WeightRef& w, std::size_t i) {
  switch (w.type) {
    case T::f32: {
      float v;
      std::memcpy(&v, w.data.data() + 4 * i, 4);
      return v;
    }
    case T::f16:
    case T::bf16: {
      std::uint16_t bits;
      std::memcpy(&bits, w.data.data() + 2 * i, 2);
      return w.type == T::f16 ? f16_bits_to_f32(bits) : bf16_bits_to_f32(bits);
    }
    default:
      fail("tensor '" + w.name + "' is " + std::string(gguf::type_name(w.type)) +
           "; klab quantize reads F32, F16 or BF16 weights only");
  }
}

std::size_t element_bytes(T t) {
  return t == T::f32 ? 4 : 2;
}

// Runs fn(i) for i in [0, n) on `threads` workers.
void parallel_for(std::int64_t n, int threads, const std::function<void(std::int64_t)>& fn) {
  std::atomic<std::int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto work = [&] {
    for (std::int64_t i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
      }
    }
  };
  std::vector<std::jthread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  pool.clear();
  if (error) std::rethrow_exception(error);
}

class Converter {
 public:
  Converter(const QuantizeOptions& options, QuantizeSummary& summary)
      : threads_(options.threads > 0
                     ? options.threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        summary_(summary) {}

  // A float source tensor in `type`, rows optionally permuted for GGUF's RoPE order.
  // Returns the bytes and the type actually used (float when rows do not fit the group).
  std::pair<std::vector<std::uint8_t>, T> encode(const WeightRef& w, T type,
                                                 std::int64_t permute_heads) {
    if (!is_float_type(w.type)) (void)element(w, 0);  // throws naming the tensor
    WeightRef src = w;
    std::vector<std::uint8_t> permuted;
    if (permute_heads > 0) {
      permuted = permute_qk_for_gguf(w.data, permute_heads, w.rows / permute_heads,
                                     static_cast<std::size_t>(w.cols) * element_bytes(w.type));
      src.data = permuted;
    }
    if (const auto format = quant_format_of(type); format && w.cols % format->group != 0) {
      ++summary_.kept_float;
      type = T::f16;
    }
    if (is_float_type(type)) return {to_float(src, type), type};
    return {quantize(src, type, *quant_format_of(type)), type};
  }

 private:
  std::vector<std::uint8_t> to_float(const WeightRef& w, T type) const {
    const auto n = static_cast<std::size_t>(w.rows * w.cols);
    if (type == w.type) return {w.data.begin(), w.data.end()};
    std::vector<std::uint8_t> out(n * element_bytes(type));
    for (std::size_t i = 0; i < n; ++i) {
      const float v = element(w, i);
      if (type == T::f32) {
        std::memcpy(out.data() + 4 * i, &v, 4);
      } else {
        const std::uint16_t bits = type == T::f16 ? f32_to_f16_bits(v) : f32_to_bf16_bits(v);
        std::memcpy(out.data() + 2 * i, &bits, 2);
      }
    }
    return out;
  }

  // Chunks of rows in parallel; each chunk's blocks land at their fixed offset.
  std::vector<std::uint8_t> quantize(const WeightRef& w, T type, const QuantFormat& format) const {
    constexpr std::int64_t kChunkRows = 32;
    const std::size_t row_out = gguf::tensor_bytes(type, w.cols);
    std::vector<std::uint8_t> out(row_out * static_cast<std::size_t>(w.rows));
    const std::int64_t chunks = (w.rows + kChunkRows - 1) / kChunkRows;
    parallel_for(chunks, threads_, [&](std::int64_t c) {
      const std::int64_t r0 = c * kChunkRows, rows = std::min(kChunkRows, w.rows - r0);
      std::vector<float> values(static_cast<std::size_t>(rows * w.cols));
      const auto base = static_cast<std::size_t>(r0 * w.cols);
      for (std::size_t i = 0; i < values.size(); ++i) values[i] = element(w, base + i);
      const QuantMatrix q =
          ref::quantize(TensorView::contiguous(values.data(), DType::f32, {rows, w.cols}), format);
      const std::vector<std::uint8_t> blocks = to_blocks(type, q);
      std::memcpy(out.data() + static_cast<std::size_t>(r0) * row_out, blocks.data(),
                  blocks.size());
    });
    return out;
  }

  int threads_;
  QuantizeSummary& summary_;
};

// ---- metadata -------------------------------------------------------------------------------

gguf::Value strings(const std::vector<std::string>& v) {
  gguf::Array a;
  a.reserve(v.size());
  for (const auto& s : v) a.push_back(Writer::str(s));
  return Writer::array(gguf::Value::Kind::string, std::move(a));
}

void set_hparams(Writer& w, const std::string& arch, const LlamaConfig& c,
                 const std::string& name) {
  const auto u32 = [](std::int64_t v) { return Writer::u32(static_cast<std::uint32_t>(v)); };
  w.set("general.architecture", Writer::str(arch));
  w.set("general.name", Writer::str(name));
  const std::string p = arch + ".";
  w.set(p + "context_length", u32(c.context_length));
  w.set(p + "embedding_length", u32(c.hidden));
  w.set(p + "feed_forward_length", u32(c.ffn_hidden));
  w.set(p + "block_count", u32(c.n_layers));
  w.set(p + "attention.head_count", u32(c.n_heads));
  w.set(p + "attention.head_count_kv", u32(c.n_kv_heads));
  if (c.head_dim * c.n_heads != c.hidden) {
    w.set(p + "attention.key_length", u32(c.head_dim));
    w.set(p + "attention.value_length", u32(c.head_dim));
  }
  w.set(p + "rope.dimension_count", u32(c.rope_dim));
  w.set(p + "rope.freq_base", Writer::f32(c.rope_theta));
  if (c.rope_linear_scale != 1.0f) {
    w.set(p + "rope.scaling.type", Writer::str("linear"));
    w.set(p + "rope.scaling.factor", Writer::f32(c.rope_linear_scale));
  }
  w.set(p + "attention.layer_norm_rms_epsilon", Writer::f32(c.rms_eps));
  w.set(p + "vocab_size", u32(c.vocab_size));
}

void set_tokenizer(Writer& w, const Model& model, std::int64_t vocab) {
  if (!model.has_tokenizer()) return;
  TokenizerData d = model.tokenizer().data();
  // GGUF readers expect one token per embedding row: pad as the HF converters do.
  if (d.token_types.empty()) d.token_types.assign(d.tokens.size(), 1);
  for (auto i = static_cast<std::int64_t>(d.tokens.size()); i < vocab; ++i) {
    d.tokens.push_back("[PAD" + std::to_string(i) + "]");
    d.token_types.push_back(5);  // unused
    if (!d.scores.empty()) d.scores.push_back(-1e9f);
  }
  w.set("tokenizer.ggml.model", Writer::str(d.model));
  w.set("tokenizer.ggml.pre", Writer::str(d.pre));
  w.set("tokenizer.ggml.tokens", strings(d.tokens));
  gguf::Array types, scores;
  for (const std::int32_t t : d.token_types) types.push_back(Writer::i32(t));
  w.set("tokenizer.ggml.token_type", Writer::array(gguf::Value::Kind::i32, std::move(types)));
  if (!d.scores.empty()) {
    for (const float s : d.scores) scores.push_back(Writer::f32(s));
    w.set("tokenizer.ggml.scores", Writer::array(gguf::Value::Kind::f32, std::move(scores)));
  }
  if (!d.merges.empty()) w.set("tokenizer.ggml.merges", strings(d.merges));
  const auto id = [&](const char* key, std::int32_t v) {
    if (v >= 0) w.set(key, Writer::u32(static_cast<std::uint32_t>(v)));
  };
  id("tokenizer.ggml.bos_token_id", d.bos_id);
  id("tokenizer.ggml.eos_token_id", d.eos_id);
  id("tokenizer.ggml.unknown_token_id", d.unk_id);
  id("tokenizer.ggml.padding_token_id", d.pad_id);
  if (!d.eot_ids.empty()) id("tokenizer.ggml.eot_token_id", d.eot_ids.front());
  w.set("tokenizer.ggml.add_bos_token", Writer::boolean(d.add_bos));
  w.set("tokenizer.ggml.add_eos_token", Writer::boolean(d.add_eos));
  if (d.model == "llama")
    w.set("tokenizer.ggml.add_space_prefix", Writer::boolean(d.add_space_prefix));
  if (const std::string t = model.chat_template(); !t.empty())
    w.set("tokenizer.chat_template", Writer::str(t));
}

// GGUF sources keep their metadata (in file order), except what this conversion rewrites.
void copy_metadata(Writer& w, const gguf::File& f) {
  for (const std::string& key : f.metadata_keys()) {
    if (key == "general.file_type" || key == "general.quantization_version" ||
        key == "general.alignment")
      continue;
    w.set(key, f.get(key));
  }
}

// ---- tensors --------------------------------------------------------------------------------

struct Job {
  std::string name;
  const WeightRef* weight;
  T type;                      // requested
  std::int64_t permute_heads;  // > 0: permute rows for GGUF's interleaved RoPE
  bool matrix;
};

std::vector<Job> plan(const Model& model, const QuantizeOptions& o, bool permute) {
  const LlamaConfig& c = model.config();
  const LlamaWeights& w = model.weights();
  std::vector<Job> jobs;
  const auto vec = [&](std::string name, const WeightRef& r) {
    jobs.push_back({std::move(name), &r, T::f32, 0, false});
  };
  const T embd = c.tied_embeddings ? o.output.value_or(o.embeddings.value_or(o.type))
                                   : o.embeddings.value_or(o.type);
  jobs.push_back({"token_embd.weight", &w.token_embd, embd, 0, true});
  vec("output_norm.weight", w.output_norm);
  if (!c.tied_embeddings)
    jobs.push_back({"output.weight", &w.output, o.output.value_or(o.type), 0, true});
  if (w.rope_freqs) vec("rope_freqs.weight", *w.rope_freqs);
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    const std::int64_t qh = permute ? c.n_heads : 0, kh = permute ? c.n_kv_heads : 0;
    vec(p + "attn_norm.weight", l.attn_norm);
    jobs.push_back({p + "attn_q.weight", &l.wq, o.type, qh, true});
    jobs.push_back({p + "attn_k.weight", &l.wk, o.type, kh, true});
    jobs.push_back({p + "attn_v.weight", &l.wv, o.type, 0, true});
    jobs.push_back({p + "attn_output.weight", &l.wo, o.type, 0, true});
    if (l.bq) jobs.push_back({p + "attn_q.bias", &*l.bq, T::f32, qh, false});
    if (l.bk) jobs.push_back({p + "attn_k.bias", &*l.bk, T::f32, kh, false});
    if (l.bv) vec(p + "attn_v.bias", *l.bv);
    vec(p + "ffn_norm.weight", l.ffn_norm);
    jobs.push_back({p + "ffn_gate.weight", &l.w_gate, o.type, 0, true});
    jobs.push_back({p + "ffn_up.weight", &l.w_up, o.type, 0, true});
    jobs.push_back({p + "ffn_down.weight", &l.w_down, o.type, 0, true});
  }
  return jobs;
}

void check_options(const QuantizeOptions& o) {
  for (const T t : {o.type, o.embeddings.value_or(o.type), o.output.value_or(o.type)})
    if (!is_float_type(t) && !quant_format_of(t))
      fail("klab quantize cannot write " + std::string(gguf::type_name(t)) +
           " (accepted: " + weight_type_names() + ")");
}

}  // namespace

QuantizeSummary quantize_model(const std::filesystem::path& in, const std::filesystem::path& out,
                               const QuantizeOptions& options) {
  check_options(options);
  std::error_code ec;
  if (std::filesystem::equivalent(in, out, ec))
    fail(out.string() + ": output would overwrite the input");
  LoadOptions load;
  load.prefault = false;
  const auto model = Model::load(in, load);
  const bool from_hf = !model->is_gguf();
  const LlamaConfig& c = model->config();
  const TargetArch arch = target_arch(c, from_hf);

  QuantizeSummary summary;
  summary.source_kind = from_hf ? "hf" : "gguf";
  Writer writer(from_hf ? 32 : model->file().alignment());
  if (from_hf) {
    set_hparams(
        writer, arch.name, c,
        in.filename().empty() ? in.parent_path().filename().string() : in.filename().string());
    set_tokenizer(writer, *model, c.vocab_size);
  } else {
    copy_metadata(writer, model->file());
  }
  const bool quantized = quant_format_of(options.type).has_value();
  if (const auto ft = llama_file_type(options.type))
    writer.set("general.file_type", Writer::u32(*ft));
  if (quantized) writer.set("general.quantization_version", Writer::u32(2));

  const std::vector<Job> jobs = plan(*model, options, arch.permute_qk);
  std::uint64_t total = 0, done = 0;
  for (const Job& j : jobs) total += j.weight->data.size();
  Converter converter(options, summary);
  std::vector<std::vector<std::uint8_t>> buffers;
  buffers.reserve(jobs.size());
  for (const Job& j : jobs) {
    const WeightRef& w = *j.weight;
    auto [bytes, type] = converter.encode(w, j.matrix ? j.type : T::f32, j.permute_heads);
    std::vector<std::int64_t> dims = j.matrix ? std::vector<std::int64_t>{w.cols, w.rows}
                                              : std::vector<std::int64_t>{w.rows * w.cols};
    summary.params += w.rows * w.cols;
    summary.bytes_in += w.data.size();
    summary.bytes_out += bytes.size();
    buffers.push_back(std::move(bytes));
    writer.add_tensor_view(j.name, type, std::move(dims), buffers.back());
    done += w.data.size();
    if (options.progress) options.progress(total ? double(done) / double(total) : 1.0, j.name);
  }
  const auto tmp = std::filesystem::path(out.string() + ".tmp");
  writer.write(tmp);
  std::filesystem::rename(tmp, out, ec);
  if (ec) fail(out.string() + ": cannot move the finished file into place: " + ec.message());
  summary.file_bytes = std::filesystem::file_size(out);
  return summary;
}

}  // namespace klab
