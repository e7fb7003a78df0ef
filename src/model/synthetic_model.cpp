// Model::synthetic: a Llama-family model of real shapes with random weights, made in memory.
//
// Every tensor lives in one anonymous mapping owned by the Model, on transparent huge pages
// where the kernel allows (4 KiB page faults cost more than the filling). The buffer is
// filled by a pool of threads claiming row ranges; each range draws from its own generator
// seeded by (seed, tensor, range), so the weights depend on the seed only, not on the thread
// count, and pages are first touched by the thread that fills them (a 16 GB model in seconds).
//
// Scales: an element of a matrix with K columns has a standard deviation of about 1/sqrt(K),
// so each output of x · Wᵀ for a unit-RMS x is about unit-RMS, and the residual stream grows
// only like sqrt(layers). Quantized blocks get a random f16 scale within ±25% of that target
// (uniform 4-bit codes have an RMS of ~4.64, 8-bit codes in [-127, 127] of ~73.3).
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "klab/error.hpp"
#include "klab/model.hpp"

namespace klab {
namespace {

// splitmix64: tiny, fast, and good enough for benchmark weights.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }  // [0, 1)
  float symmetric() { return 2.0f * uniform() - 1.0f; }                      // [-1, 1)

 private:
  std::uint64_t state_;
};

constexpr float kQ4CodeRms = 4.637f;  // sqrt(mean of (n - 8)^2 over n in [0, 15])
constexpr float kQ8CodeRms = 73.32f;  // sqrt(mean of q^2 over q in [-127, 127])
constexpr std::size_t kAlign = 64;    // every tensor starts on a cache line
constexpr std::int64_t kRowsPerTask = 64;

// Anonymous private memory, asking for transparent huge pages.
class AnonymousMemory {
 public:
  explicit AnonymousMemory(std::size_t bytes) : bytes_(std::max<std::size_t>(bytes, 1)) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      fail("synthetic model: out of host memory allocating " + std::to_string(bytes) + " bytes");
    data_ = static_cast<std::uint8_t*>(p);
    (void)madvise(p, bytes_, MADV_HUGEPAGE);  // a hint: fine to be refused
  }
  ~AnonymousMemory() { munmap(data_, bytes_); }
  AnonymousMemory(const AnonymousMemory&) = delete;
  AnonymousMemory& operator=(const AnonymousMemory&) = delete;
  std::uint8_t* data() const { return data_; }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t bytes_;
};

struct TensorPlan {
  WeightRef* ref = nullptr;
  std::size_t offset = 0;
  std::size_t bytes = 0;
};

std::size_t row_bytes(gguf::TensorType type, std::int64_t cols) {
  switch (type) {
    case gguf::TensorType::q4_0:
      return static_cast<std::size_t>(cols / 32) * 18;
    case gguf::TensorType::q8_0:
      return static_cast<std::size_t>(cols / 32) * 34;
    case gguf::TensorType::f16:
      return static_cast<std::size_t>(cols) * 2;
    case gguf::TensorType::f32:
      return static_cast<std::size_t>(cols) * 4;
    default:
      fail("synthetic model: unsupported tensor type " + std::string(gguf::type_name(type)));
  }
}

void put_f16(std::uint8_t* dst, float v) {
  const std::uint16_t bits = f32_to_f16_bits(v);
  std::memcpy(dst, &bits, 2);
}

// Rows [r0, r1) of one tensor.
void fill_rows(const TensorPlan& t, std::uint8_t* base, std::int64_t r0, std::int64_t r1,
               Rng& rng) {
  const WeightRef& w = *t.ref;
  const std::size_t rb = row_bytes(w.type, w.cols);
  std::uint8_t* p = base + t.offset + static_cast<std::size_t>(r0) * rb;
  const std::uint8_t* end = base + t.offset + static_cast<std::size_t>(r1) * rb;
  const float sigma = 1.0f / std::sqrt(static_cast<float>(w.cols));
  switch (w.type) {
    case gguf::TensorType::f32:  // norm weights, near 1
      for (; p < end; p += 4) {
        const float v = 1.0f + 0.1f * rng.symmetric();
        std::memcpy(p, &v, 4);
      }
      return;
    case gguf::TensorType::f16: {
      const float a = sigma * std::sqrt(3.0f);  // uniform [-a, a) has RMS sigma
      for (; p < end; p += 2) put_f16(p, a * rng.symmetric());
      return;
    }
    case gguf::TensorType::q4_0:
      for (; p < end; p += 18) {
        put_f16(p, sigma / kQ4CodeRms * (1.0f + 0.25f * rng.symmetric()));
        for (int i = 0; i < 16; i += 8) {
          const std::uint64_t codes = rng.next();
          std::memcpy(p + 2 + i, &codes, 8);
        }
      }
      return;
    case gguf::TensorType::q8_0:
      for (; p < end; p += 34) {
        put_f16(p, sigma / kQ8CodeRms * (1.0f + 0.25f * rng.symmetric()));
        for (int i = 0; i < 32; ++i) {
          // -128 would make the code range asymmetric; redraw it as 127's mirror.
          const auto q = static_cast<std::int8_t>(rng.next() >> 56);
          p[2 + i] = static_cast<std::uint8_t>(q == -128 ? std::int8_t{-127} : q);
        }
      }
      return;
    default:
      fail("synthetic model: unsupported tensor type " + std::string(gguf::type_name(w.type)));
  }
}

struct Task {
  std::size_t tensor;
  std::int64_t r0, r1;
};

void fill_parallel(const std::vector<TensorPlan>& plan, std::uint8_t* base, std::uint64_t seed,
                   int threads) {
  std::vector<Task> tasks;
  for (std::size_t i = 0; i < plan.size(); ++i)
    for (std::int64_t r = 0; r < plan[i].ref->rows; r += kRowsPerTask)
      tasks.push_back({i, r, std::min(plan[i].ref->rows, r + kRowsPerTask)});
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t k = next++; k < tasks.size(); k = next++) {
      const Task& t = tasks[k];
      Rng rng(seed ^ (0x632be59bd9b4e019ULL * (t.tensor + 1)) ^
              (0x8cb92ba72f3d8dd7ULL * static_cast<std::uint64_t>(t.r0 + 1)));
      fill_rows(plan[t.tensor], base, t.r0, t.r1, rng);
    }
  };
  std::vector<std::jthread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
}

void check_matrix_type(gguf::TensorType t) {
  using T = gguf::TensorType;
  if (t != T::q4_0 && t != T::q8_0 && t != T::f16)
    fail("synthetic model: weight type " + std::string(gguf::type_name(t)) +
         " is not one of Q4_0, Q8_0, F16");
}

void check_config(const LlamaConfig& c, gguf::TensorType type) {
  const auto positive = [](std::int64_t v) { return v > 0; };
  if (!positive(c.n_layers) || !positive(c.hidden) || !positive(c.ffn_hidden) ||
      !positive(c.n_heads) || !positive(c.n_kv_heads) || !positive(c.head_dim) ||
      !positive(c.vocab_size) || !positive(c.context_length) || c.n_heads % c.n_kv_heads != 0)
    fail("synthetic model: inconsistent config (" + c.summary() + ")");
  if (type == gguf::TensorType::f16) return;
  for (const std::int64_t cols : {c.hidden, c.q_dim(), c.ffn_hidden})
    if (cols % 32 != 0)
      fail("synthetic model: a row of " + std::to_string(cols) + " elements is not whole " +
           std::string(gguf::type_name(type)) + " blocks of 32");
}

LlamaConfig llama_shape(std::int64_t layers, std::int64_t hidden, std::int64_t heads,
                        std::int64_t kv_heads, std::int64_t ffn, std::int64_t vocab,
                        std::int64_t ctx, float theta) {
  LlamaConfig c;
  c.arch = "llama";
  c.n_layers = layers;
  c.hidden = hidden;
  c.ffn_hidden = ffn;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = vocab;
  c.context_length = ctx;
  c.rope_dim = c.head_dim;
  c.rope_theta = theta;
  c.rms_eps = 1e-5f;
  return c;
}

}  // namespace

std::vector<std::string> synthetic_presets() {
  return {"llama2-7b", "llama3-8b", "tiny"};
}

LlamaConfig synthetic_config(std::string_view preset) {
  if (preset == "llama2-7b") return llama_shape(32, 4096, 32, 32, 11008, 32000, 4096, 10000.0f);
  if (preset == "llama3-8b") return llama_shape(32, 4096, 32, 8, 14336, 128256, 8192, 500000.0f);
  if (preset == "tiny") return llama_shape(2, 256, 4, 2, 352, 320, 256, 10000.0f);
  std::string names;
  for (const auto& n : synthetic_presets()) names += (names.empty() ? "" : ", ") + n;
  fail("unknown synthetic model '" + std::string(preset) + "' (have: " + names + ")");
}

std::shared_ptr<const Model> Model::synthetic(const LlamaConfig& config,
                                              const SyntheticOptions& options) {
  check_matrix_type(options.weight_type);
  check_config(config, options.weight_type);
  const LlamaConfig& c = config;
  const gguf::TensorType wt = options.weight_type;

  LlamaWeights w;
  std::vector<TensorPlan> plan;
  const auto matrix = [&](WeightRef& r, std::string name, std::int64_t rows, std::int64_t cols) {
    r = {std::move(name), wt, rows, cols, {}};
  };
  const auto norm = [&](WeightRef& r, std::string name, std::int64_t n) {
    r = {std::move(name), gguf::TensorType::f32, 1, n, {}};
  };
  matrix(w.token_embd, "token_embd.weight", c.vocab_size, c.hidden);
  norm(w.output_norm, "output_norm.weight", c.hidden);
  matrix(w.output, "output.weight", c.vocab_size, c.hidden);
  w.layers.resize(static_cast<std::size_t>(c.n_layers));
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    LayerWeights& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    norm(l.attn_norm, p + "attn_norm.weight", c.hidden);
    matrix(l.wq, p + "attn_q.weight", c.q_dim(), c.hidden);
    matrix(l.wk, p + "attn_k.weight", c.kv_dim(), c.hidden);
    matrix(l.wv, p + "attn_v.weight", c.kv_dim(), c.hidden);
    matrix(l.wo, p + "attn_output.weight", c.hidden, c.q_dim());
    norm(l.ffn_norm, p + "ffn_norm.weight", c.hidden);
    matrix(l.w_gate, p + "ffn_gate.weight", c.ffn_hidden, c.hidden);
    matrix(l.w_up, p + "ffn_up.weight", c.ffn_hidden, c.hidden);
    matrix(l.w_down, p + "ffn_down.weight", c.hidden, c.ffn_hidden);
  }

  // Lay every tensor out in one buffer (pointers into `w` stay put: nothing is added after).
  std::size_t total = 0;
  const auto place = [&](WeightRef& r) {
    const std::size_t bytes = row_bytes(r.type, r.cols) * static_cast<std::size_t>(r.rows);
    plan.push_back({&r, total, bytes});
    total = (total + bytes + kAlign - 1) / kAlign * kAlign;
  };
  place(w.token_embd);
  place(w.output_norm);
  place(w.output);
  for (LayerWeights& l : w.layers)
    for (WeightRef* r :
         {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down})
      place(*r);

  auto storage = std::make_shared<AnonymousMemory>(total);
  std::uint8_t* base = storage->data();
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  fill_parallel(plan, base, options.seed, threads);
  for (const TensorPlan& t : plan) t.ref->data = {base + t.offset, t.bytes};

  const std::string path = "synthetic:" + std::string(gguf::type_name(wt));
  return std::make_shared<Model>(path, std::shared_ptr<const void>(std::move(storage)), c,
                                 std::move(w), std::nullopt, std::string());
}

}  // namespace klab
