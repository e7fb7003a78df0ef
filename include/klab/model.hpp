// A Llama-family model loaded from GGUF (weights stay in the memory map), and the inference
// session interface that each backend (CPU now, CUDA later) implements: prefill a batch of
// tokens, then decode one token at a time over a contiguous KV cache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "klab/dtype.hpp"
#include "klab/gguf.hpp"
#include "klab/sampler.hpp"
#include "klab/tensor.hpp"
#include "klab/tokenizer.hpp"

namespace klab {

enum class RopeLayout : std::uint8_t {
  interleaved,  // GGML "normal": pairs (2i, 2i+1). GGUF llama / mistral (Q, K were permuted)
  half_split,   // NeoX: pairs (i, i + rot_dim/2). GGUF qwen2
};

// Hyper-parameters of the graph, from `<arch>.*` GGUF metadata.
struct LlamaConfig {
  std::string arch;  // general.architecture: llama, mistral or qwen2
  std::int64_t n_layers = 0;
  std::int64_t hidden = 0;      // embedding_length
  std::int64_t ffn_hidden = 0;  // feed_forward_length
  std::int64_t n_heads = 0;
  std::int64_t n_kv_heads = 0;
  std::int64_t head_dim = 0;  // attention.key_length, else hidden / n_heads
  std::int64_t vocab_size = 0;
  std::int64_t context_length = 0;
  std::int64_t rope_dim = 0;  // rope.dimension_count, else head_dim
  float rope_theta = 10000.0f;
  float rope_linear_scale = 1.0f;  // rope.scaling.type == linear: positions / factor
  RopeLayout rope_layout = RopeLayout::interleaved;
  float rms_eps = 1e-5f;
  bool qkv_bias = false;         // qwen2
  bool tied_embeddings = false;  // no output.weight: the output projection is token_embd

  std::int64_t q_dim() const { return n_heads * head_dim; }
  std::int64_t kv_dim() const { return n_kv_heads * head_dim; }

  // Reads and checks the metadata. Throws Error naming the file and the key, or the
  // architecture when it is not one of the supported same-graph families.
  static LlamaConfig from_gguf(const gguf::File& file);
  std::string summary() const;  // one line: arch, layers, dims, heads, vocab, context
};

// One tensor of the model: a view into the mapped file, in GGUF's own encoding.
struct WeightRef {
  std::string name;
  gguf::TensorType type = gguf::TensorType::f32;
  std::int64_t rows = 0;  // outer dim (GGUF dims[1]; 1 for vectors)
  std::int64_t cols = 0;  // inner dim (GGUF dims[0])
  std::span<const std::uint8_t> data;
};

struct LayerWeights {
  WeightRef attn_norm, wq, wk, wv, wo;
  std::optional<WeightRef> bq, bk, bv;
  WeightRef ffn_norm, w_gate, w_up, w_down;
};

struct LlamaWeights {
  WeightRef token_embd;
  WeightRef output_norm;
  WeightRef output;                     // == token_embd when tied
  std::optional<WeightRef> rope_freqs;  // per-frequency divisors (Llama 3.1 style), [rope_dim/2]
  std::vector<LayerWeights> layers;
};

// Tensor types the matrix products accept, and those small vectors (norms, biases) accept.
bool is_supported_matrix_type(gguf::TensorType t);
bool is_supported_vector_type(gguf::TensorType t);
// A 1-D float tensor (norm weight, bias) as f32.
std::vector<float> to_f32_vector(const WeightRef& w);

struct LoadOptions {
  // Called with a fraction in [0, 1] while the weights are checked and paged in.
  std::function<void(double)> progress;
  // Touch every weight page once so that the first token does not pay for page faults.
  bool prefault = true;
};

// Random weights of a real model's shapes, made in memory (no file, no tokenizer): end-to-end
// benchmarks and tests. Matrices (embeddings and output head included) in `weight_type`, norms
// f32. Values are small and finite so activations stay finite through every layer: each
// matrix element has a standard deviation of about 1/sqrt(cols), norms are near 1.
struct SyntheticOptions {
  gguf::TensorType weight_type = gguf::TensorType::q4_0;  // Q4_0, Q8_0 or F16
  std::uint64_t seed = 0x5eed;
  int threads = 0;  // 0: every hardware thread
};

// Named shapes: "llama2-7b" (32 layers, hidden 4096, 32/32 heads, FFN 11008, vocab 32000,
// context 4096), "llama3-8b" (32 layers, 4096, 32/8 heads, FFN 14336, vocab 128256, RoPE theta
// 500000, context 8192) and "tiny" (2 layers, 256, 4/2 heads of 64, FFN 352, vocab 320,
// context 256). Throws Error naming the presets for an unknown name.
LlamaConfig synthetic_config(std::string_view preset);
std::vector<std::string> synthetic_presets();

class Model {
 public:
  // Opens the GGUF, reads the config, checks every tensor's presence, type and shape, and
  // builds the tokenizer when the file carries `tokenizer.ggml.*`. Throws Error with a one-line
  // message (file, tensor or key, expected vs actual) on any problem.
  // `path` may also be a Hugging Face checkpoint directory (config.json, *.safetensors,
  // tokenizer.json): see src/model/hf_model.cpp. Its F32/F16/BF16 weights stay in the mapping
  // and its Q/K keep HF's half-split RoPE order (rope_layout = half_split).
  static std::shared_ptr<const Model> load(const std::filesystem::path& path,
                                           const LoadOptions& options = {});

  // A model of `config`'s shapes with random weights (see SyntheticOptions); path()
  // is "synthetic:<weight type>". Throws Error for an unsupported weight type or a config whose
  // matrix widths are not whole blocks of the type.
  static std::shared_ptr<const Model> synthetic(const LlamaConfig& config,
                                                const SyntheticOptions& options = {});

  const LlamaConfig& config() const { return config_; }
  const LlamaWeights& weights() const { return weights_; }
  bool is_gguf() const { return file_.has_value(); }
  // The GGUF file; throws Error for a model loaded from a Hugging Face directory.
  const gguf::File& file() const;
  const std::filesystem::path& path() const { return path_; }
  bool has_tokenizer() const { return tokenizer_.has_value(); }
  // Throws Error when the file has no tokenizer metadata.
  const Tokenizer& tokenizer() const;
  // `tokenizer.chat_template`, empty when absent.
  std::string chat_template() const;
  // Bytes of all weights (what one decode step reads).
  std::size_t weight_bytes() const;

  Model(gguf::File file, LlamaConfig config, LlamaWeights weights,
        std::optional<Tokenizer> tokenizer);
  // A model whose weight views point into `storage` (e.g. safetensors mappings), kept alive
  // as long as the model.
  Model(std::filesystem::path path, std::shared_ptr<const void> storage, LlamaConfig config,
        LlamaWeights weights, std::optional<Tokenizer> tokenizer, std::string chat_template);

 private:
  std::optional<gguf::File> file_;
  std::filesystem::path path_;
  std::shared_ptr<const void> storage_;
  std::string chat_template_;
  LlamaConfig config_;
  LlamaWeights weights_;
  std::optional<Tokenizer> tokenizer_;
};

struct SessionOptions {
  Device device = Device::cpu;
  int threads = 0;               // CPU worker threads; 0: one per physical core
  std::int64_t max_context = 0;  // KV cache length; 0: the model's context_length
  DType kv_dtype = DType::f32;   // f32 or f16 cache entries
  std::int64_t max_batch = 512;  // prefill processes the prompt in chunks of this many tokens
  // Independent sequences the session holds, each with its own cache of max_context positions
  // and its own length (Session::decode_batch and the seq overloads).
  std::int64_t max_sequences = 1;
};

// Inference state (KV cache, scratch) on one backend for up to max_sequences() independent
// sequences. The single-sequence calls act on sequence 0; the seq overloads on any.
class Session {
 public:
  virtual ~Session() = default;

  // Processes `tokens` at positions [n_past(), n_past() + size) as a batch and appends them to
  // the cache. Returns the logits of the last token ([vocab]) or, with all_logits, of every
  // token ([size * vocab], row-major). The span stays valid until the next call.
  // Throws Error (and changes nothing) when the tokens would overflow max_context() or an id
  // is outside the vocabulary.
  std::span<const float> prefill(std::span<const std::int32_t> tokens, bool all_logits = false) {
    return prefill(0, tokens, all_logits);
  }
  // One token of sequence 0 (decode_batch of one).
  std::span<const float> decode(std::int32_t token);

  std::int64_t n_past() const { return n_past(0); }
  // Positions each sequence can hold.
  std::int64_t max_context() const { return max_context_; }
  // Forgets every sequence's cache (keeps the allocation).
  void reset();
  // Drops cached positions >= n of sequence 0 (n <= n_past()), e.g. to rewind a chat turn.
  void truncate(std::int64_t n) { truncate(0, n); }
  virtual std::string describe() const = 0;  // e.g. "cpu, 2 threads, avx2, kv f32 x 4096"

  // ---- several sequences: ids in [0, max_sequences()) ---------------------------------------
  std::int64_t max_sequences() const { return static_cast<std::int64_t>(lengths_.size()); }
  // prefill() of sequence `seq`.
  std::span<const float> prefill(std::int64_t seq, std::span<const std::int32_t> tokens,
                                 bool all_logits = false);
  // One step for several sequences together: tokens[i] is appended to sequence seq_ids[i].
  // Returns logits [B, vocab], row i for seq_ids[i]; valid until the next call. Throws Error
  // (and changes nothing) when the spans are empty or differ in size, a sequence id is out of
  // range or repeated, a sequence is full, or a token is outside the vocabulary.
  std::span<const float> decode_batch(std::span<const std::int32_t> tokens,
                                      std::span<const std::int32_t> seq_ids);
  std::int64_t n_past(std::int64_t seq) const;
  void reset(std::int64_t seq);
  void truncate(std::int64_t seq, std::int64_t n);
  // Makes `dst` a copy of `src` (its cached positions and length), e.g. to fork a shared prompt.
  void copy_sequence(std::int64_t src, std::int64_t dst);

  const Model& model() const { return *model_; }

  // ---- sampling next to the logits (sequence 0) ---------------------------------------------
  // The sampler that sample_last() / decode_sample() use; restarts its history and random
  // stream. Backends with a device sampler (CUDA) run it on the GPU, inside the decode step's
  // graph, and copy back only the token id; the others sample on the host with klab::Sampler.
  // The same parameters and seed choose the same tokens on every backend (same u sequence).
  virtual void set_sampler(const SamplerParams& params);
  // Records tokens the penalties count (e.g. the prompt), without running the model.
  virtual void sampler_accept(std::span<const std::int32_t> ids);
  // Samples the logits the last prefill()/decode() of sequence 0 returned and records the id.
  virtual std::int32_t sample_last();
  // Appends `token` to sequence 0 and samples the next token (decode() + sample_last(), fused
  // where the backend can). Same checks as decode().
  std::int32_t decode_sample(std::int32_t token);

 protected:
  Session(std::shared_ptr<const Model> model, std::int64_t max_context, std::int64_t max_sequences);

  // decode_sample()'s device path: runs the step and samples on the device, returning the id,
  // or nullopt to fall back to decode() + sample_last(). Lengths are updated by the caller.
  virtual std::optional<std::int32_t> forward_decode_sample(std::int32_t /*token*/) {
    return std::nullopt;
  }
  // The logits sample_last() reads: what the last prefill()/decode() of sequence 0 returned.
  // Throws Error when there are none (nothing run yet, or decode_sample() kept them on the
  // device).
  std::span<const float> last_logits() const;
  Sampler& host_sampler(std::string_view op);

  // Backend hooks, called with checked arguments; sequence lengths (n_past(seq)) are those
  // before the call, and the base class updates them when the hook returns.
  // `tokens` of sequence `seq` at positions [n_past(seq), n_past(seq) + size).
  virtual std::span<const float> forward_prefill(std::int64_t seq,
                                                 std::span<const std::int32_t> tokens,
                                                 bool all_logits) = 0;
  // One token per sequence, sequences distinct, each with room for one more position.
  virtual std::span<const float> forward_decode(std::span<const std::int32_t> tokens,
                                                std::span<const std::int32_t> seq_ids) = 0;
  // Copies cached positions [0, n) of sequence src over those of dst.
  virtual void copy_cache(std::int64_t src, std::int64_t dst, std::int64_t n) = 0;

  std::shared_ptr<const Model> model_;

 private:
  void check_seq(std::string_view op, std::int64_t seq) const;
  void check_decode(std::span<const std::int32_t> tokens,
                    std::span<const std::int32_t> seq_ids) const;

  std::int64_t max_context_;
  std::vector<std::int64_t> lengths_;  // n_past of each sequence
  std::optional<Sampler> sampler_;     // the host sampler (set_sampler)
  std::span<const float> last_logits_;
};

// True when `device` has a backend in this build (CUDA: built with it AND a GPU is present).
bool backend_available(Device device);
// Throws Error when the device's backend is not available.
std::unique_ptr<Session> create_session(std::shared_ptr<const Model> model,
                                        const SessionOptions& options = {});

}  // namespace klab
