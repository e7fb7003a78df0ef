// `klab bench e2e`: whole-model speed on the CUDA engine, against the bandwidth bound.
//   klab bench e2e [--model llama2-7b,llama3-8b,default|PATH] [--weights q4_0,q8_0,f16]
//                  [--batch 1,4,16] [--ctx 512,4096] [--prompt 512] [--device cuda|cpu] [--quick]
//                  [--timeline PREFIX]
// Models: the synthetic presets (Model::synthetic: random weights of the real shapes, in each
// --weights type), "default" (the fetched real model, its own weight types) or a GGUF / HF path.
//
// Cases, per model:
//   e2e_decode   one decode step of B sequences whose caches hold ctx - 1 tokens (the step
//                attends over ctx keys), wall time of Session::decode_batch: input copy, graph
//                replay, logits [B, vocab] copied back to the host. Each sequence is rewound
//                after every step, so all steps run at the same context.
//                tokens/s = B * 1e6 / median_us.
//   e2e_prefill  a `--prompt`-token prompt into an empty sequence (last-token logits back).
//                tokens/s = prompt * 1e6 / median_us (dims.batch = prompt).
// bytes = the weights one step reads (every matrix and norm; of the token embeddings only B
// rows, counted as none), so "% of ceiling" of a decode case is the bandwidth figure:
// (weight bytes / measured D2D copy GB/s) / step time = achieved weight-streaming GB/s / copy
// GB/s, and the bound in tokens/s is B * copy GB/s / weight bytes. KV-cache bytes are in the note,
// not in the bound. Validation (with --validate) checks that every logit is finite.
//
// --timeline PREFIX: before timing, each decode case replays its step under a kernel trace
// (CUPTI: GPU start / end of every kernel inside the graph) and writes PREFIX-<case>.json with
// the per-kernel summary (klab::bench::summarize_steps), printing the largest rows. The timed
// runs after it are not traced.
//
// Caches are filled once per model: one reserve sequence gets a prefill of random ids up to
// the longest --ctx, and each case copies it into its B sequences (Session::copy_sequence).
// One model is on the GPU at a time: the next model's first case frees the previous one, and
// each model's last case frees its own. Decode with 8 < B <= 32 runs one wide GEMV pass per
// matrix (mma_wide; dense weights: one cuBLAS GEMM), or one tensor-core GEMM per matrix under
// KLAB_CUDA_WIDE_DECODE=gemm (the variant name says which).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "klab/bench.hpp"
#include "klab/error.hpp"
#include "klab/kernel_trace.hpp"
#include "klab/model.hpp"
#include "model_path.hpp"

namespace {

namespace kb = klab::bench;
using klab::gguf::TensorType;
using Clock = std::chrono::steady_clock;

// ---- what to run ----------------------------------------------------------------------------

struct ModelSpec {
  std::string label;                          // preset name or the file's stem
  std::optional<TensorType> weights;          // synthetic: the matrices' type
  std::shared_ptr<const klab::Model> loaded;  // real model (mapped, not yet paged in)
  std::string weight_name;                    // "q4_0", ... (real model: its first layer's type)
  std::string skip_reason;                    // e.g. the default model is not there
  std::string key() const { return label + "/" + weight_name; }
};

struct Plan {
  klab::Device device = klab::Device::cuda;
  std::vector<ModelSpec> models;
  std::vector<std::int64_t> batches;
  std::vector<std::int64_t> contexts;
  std::int64_t prompt = 512;
  std::string timeline;  // file prefix; empty: no trace
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

TensorType weight_type(const std::string& name) {
  if (name == "q4_0") return TensorType::q4_0;
  if (name == "q8_0") return TensorType::q8_0;
  if (name == "f16") return TensorType::f16;
  klab::fail("klab bench e2e: --weights takes q4_0, q8_0 and f16, got '" + name + "'");
}

bool is_preset(const std::string& name) {
  const auto presets = klab::synthetic_presets();
  return std::find(presets.begin(), presets.end(), name) != presets.end();
}

ModelSpec real_model(const std::string& name) {
  ModelSpec spec;
  spec.label = name;
  spec.weight_name = "-";
  try {
    const std::filesystem::path path =
        klab::cli::resolve_model_path(name == "default" ? std::string() : name);
    klab::LoadOptions load;
    load.prefault = false;  // paged in by the upload, when a case runs
    spec.loaded = klab::Model::load(path, load);
    spec.label = lower(path.stem().string());
    spec.label = spec.label.substr(0, spec.label.find('.'));  // "smollm2-135m-instruct"
    const auto& layers = spec.loaded->weights().layers;
    if (!layers.empty())
      spec.weight_name = lower(std::string(klab::gguf::type_name(layers[0].wq.type)));
  } catch (const klab::Error& e) {
    spec.skip_reason = e.what();
  }
  return spec;
}

std::vector<ModelSpec> model_specs(const std::vector<std::string>& models,
                                   const std::vector<std::string>& weights) {
  std::vector<ModelSpec> out;
  for (const std::string& name : models) {
    if (!is_preset(name)) {
      out.push_back(real_model(name));
      continue;
    }
    for (const std::string& w : weights) {
      ModelSpec spec;
      spec.label = name;
      spec.weights = weight_type(w);
      spec.weight_name = w;
      out.push_back(std::move(spec));
    }
  }
  return out;
}

Plan plan_from(const kb::Params& p) {
  Plan plan;
  const std::string device = p.str("device");
  if (device != "cuda" && device != "cpu")
    klab::fail("klab bench e2e: --device takes cuda or cpu, got '" + device + "'");
  plan.device = device == "cpu" ? klab::Device::cpu : klab::Device::cuda;
  if (p.flag("quick")) {  // < 60 s: the 7B shape at 4 bits, batch 1 and 16, and the real model
    plan.models = model_specs({"llama2-7b", "default"}, {"q4_0"});
    plan.batches = {1, 16};
    plan.contexts = {512};
    plan.prompt = 512;
    return plan;
  }
  plan.models = model_specs(p.strs("model"), p.strs("weights"));
  plan.batches = p.ints("batch");
  plan.contexts = p.ints("ctx");
  plan.prompt = p.i64("prompt");
  plan.timeline = p.str("timeline");
  if (!plan.timeline.empty() && !kb::KernelTrace::available())
    klab::fail("klab bench e2e: --timeline needs CUPTI, and this klab was built without it");
  for (const std::int64_t b : plan.batches)
    if (b < 1 || b > 256) klab::fail("klab bench e2e: --batch values must be in [1, 256]");
  for (const std::int64_t c : plan.contexts)
    if (c < 1) klab::fail("klab bench e2e: --ctx values must be >= 1");
  if (plan.prompt < 0) klab::fail("klab bench e2e: --prompt must be >= 0");
  return plan;
}

// ---- sizes ----------------------------------------------------------------------------------

struct Sizes {
  klab::LlamaConfig config;
  std::size_t step_bytes = 0;  // weights one decode step reads
  double matrix_params = 0;    // multiply-adds per token in the matrices
};

Sizes sizes_of(const ModelSpec& spec) {
  Sizes s;
  if (spec.loaded) {
    const klab::Model& m = *spec.loaded;
    s.config = m.config();
    const klab::LlamaWeights& w = m.weights();
    const bool tied = w.output.data.data() == w.token_embd.data.data();
    s.step_bytes = m.weight_bytes() - (tied ? 0 : w.token_embd.data.size());
  } else {
    s.config = klab::synthetic_config(spec.label);
    const klab::LlamaConfig& c = s.config;
    const auto matrix = [&](std::int64_t rows, std::int64_t cols) {
      return klab::gguf::tensor_bytes(*spec.weights, rows * cols);
    };
    const std::size_t norms = static_cast<std::size_t>(c.hidden) * 4;
    const std::size_t layer = matrix(c.q_dim() + 2 * c.kv_dim(), c.hidden) +
                              matrix(c.hidden, c.q_dim()) + 3 * matrix(c.ffn_hidden, c.hidden) +
                              2 * norms;
    s.step_bytes =
        static_cast<std::size_t>(c.n_layers) * layer + matrix(c.vocab_size, c.hidden) + norms;
  }
  const klab::LlamaConfig& c = s.config;
  s.matrix_params = static_cast<double>(c.n_layers) * static_cast<double>(c.hidden) *
                        static_cast<double>(2 * c.q_dim() + 2 * c.kv_dim() + 3 * c.ffn_hidden) +
                    static_cast<double>(c.vocab_size) * static_cast<double>(c.hidden);
  return s;
}

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / (1 << 20));
  return buf;
}

bool env_is(const char* name, std::string_view value) {
  const char* v = std::getenv(name);
  return v && std::string_view(v) == value;
}

// ---- the model on the GPU ----------------------------------------------------------------

struct Engine {
  std::string key;
  std::shared_ptr<const klab::Model> model;
  std::unique_ptr<klab::Session> session;
  std::int64_t reserve = 0;  // the sequence every case copies its cache from
  std::mt19937 rng{0x5eed};

  std::vector<std::int32_t> random_ids(std::size_t n) {
    std::uniform_int_distribution<std::int32_t> dist(
        0, static_cast<std::int32_t>(model->config().vocab_size - 1));
    std::vector<std::int32_t> ids(n);
    for (auto& id : ids) id = dist(rng);
    return ids;
  }
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::shared_ptr<Engine> make_engine(const ModelSpec& spec, const Plan& plan) {
  auto e = std::make_shared<Engine>();
  e->key = spec.key();
  auto t0 = Clock::now();
  e->model = spec.loaded ? spec.loaded
                         : klab::Model::synthetic(klab::synthetic_config(spec.label),
                                                  {.weight_type = *spec.weights});
  const double made = seconds_since(t0);
  const std::int64_t model_ctx = e->model->config().context_length;
  const std::int64_t longest =
      std::max(*std::max_element(plan.contexts.begin(), plan.contexts.end()),
               std::max<std::int64_t>(plan.prompt, 1));
  const std::int64_t batch = *std::max_element(plan.batches.begin(), plan.batches.end());
  t0 = Clock::now();
  e->session = klab::create_session(e->model, {.device = plan.device,
                                               .max_context = std::min(longest, model_ctx),
                                               .kv_dtype = klab::DType::f16,
                                               .max_sequences = batch + 1});
  const double uploaded = seconds_since(t0);
  e->reserve = batch;
  t0 = Clock::now();
  const std::int64_t fill = e->session->max_context() - 1;
  if (fill > 0) e->session->prefill(e->reserve, e->random_ids(static_cast<std::size_t>(fill)));
  std::fprintf(stderr,
               "bench: e2e %s: weights made in %.1f s, session (upload) in %.1f s, reserve cache "
               "filled to %lld in %.1f s: %s\n",
               spec.key().c_str(), made, uploaded, static_cast<long long>(fill), seconds_since(t0),
               e->session->describe().c_str());
  return e;
}

// The engine on the GPU now (one at a time, so memory is freed between models).
std::shared_ptr<Engine>& current_engine() {
  static std::shared_ptr<Engine> engine;
  return engine;
}

std::shared_ptr<Engine> acquire(const ModelSpec& spec, const Plan& plan) {
  std::shared_ptr<Engine>& slot = current_engine();
  if (slot && slot->key == spec.key()) return slot;
  slot.reset();  // the previous model's GPU memory goes first
  slot = make_engine(spec, plan);
  return slot;
}

// Frees the current engine when the last case of a model is done with it.
struct ReleaseEngine {
  ~ReleaseEngine() { current_engine().reset(); }
};

// ---- cases ----------------------------------------------------------------------------------

// Wall time of each run(), for the summary line printed when the case is done.
struct StepLog {
  std::string what;
  double tokens_per_run = 1;
  double bytes = 0;
  std::vector<double> seconds;
  ~StepLog() {
    if (seconds.empty()) return;
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    std::fprintf(stderr,
                 "bench: e2e %s: %.1f tokens/s, weights streamed at %.0f GB/s (median of %zu "
                 "runs, %.3f ms)\n",
                 what.c_str(), tokens_per_run / median, bytes / median / 1e9, seconds.size(),
                 median * 1e3);
  }
};

std::shared_ptr<StepLog> make_log(const std::string& what, double tokens_per_run, double bytes) {
  auto log = std::make_shared<StepLog>();
  log->what = what;
  log->tokens_per_run = tokens_per_run;
  log->bytes = bytes;
  return log;
}

// ---- in-graph kernel timeline (--timeline) ---------------------------------------------------

std::string file_slug(const std::string& what) {
  std::string out;
  for (const char c : lower(what)) {
    if (c == ' ')
      out.push_back('-');
    else if (c != '=')
      out.push_back(c);
  }
  return out;
}

nlohmann::json timeline_json(const kb::Timeline& t) {
  nlohmann::json rows = nlohmann::json::array(), kernels = nlohmann::json::array();
  for (const kb::TimelineRow& r : t.rows)
    rows.push_back({{"kernel", r.label},
                    {"launches_per_step", r.launches},
                    {"advance_us", r.advance_us},
                    {"idle_us", r.idle_us},
                    {"busy_us", r.busy_us},
                    {"overlap_us", r.overlap_us}});
  for (const kb::TimelineKernel& k : t.median_step)
    kernels.push_back({{"kernel", k.label},
                       {"start_us", k.start_us},
                       {"end_us", k.end_us},
                       {"advance_us", k.advance_us},
                       {"idle_us", k.idle_us}});
  return {{"steps", t.steps},     {"span_us", t.span_us},
          {"idle_us", t.idle_us}, {"kernels_per_step", t.kernels},
          {"rows", rows},         {"median_step", kernels}};
}

void print_timeline(const std::string& what, const kb::Timeline& t, std::int64_t layers,
                    double wall_ms) {
  std::fprintf(stderr,
               "bench: e2e timeline %s: %.1f us a step on the GPU (median of %zu traced steps; "
               "host wall %.3f ms a step while traced), %.0f kernels, %.1f us with none running\n"
               "  %10s %9s %8s %9s %9s  kernel [blocks x threads, cluster]\n",
               what.c_str(), t.span_us, t.steps, wall_ms, t.kernels, t.idle_us, "advance/us",
               "/layer", "launches", "busy/us", "overlap");
  for (std::size_t i = 0; i < t.rows.size() && i < 16; ++i) {
    const kb::TimelineRow& r = t.rows[i];
    std::fprintf(stderr, "  %10.1f %9.2f %8.0f %9.1f %9.1f  %s\n", r.advance_us,
                 r.advance_us / static_cast<double>(layers), r.launches, r.busy_us, r.overlap_us,
                 r.label.c_str());
  }
}

// Replays `step` under a kernel trace (after a few untraced warm-up steps) and writes the
// summary to PREFIX-<case>.json.
template <class Step>
void write_timeline(const std::string& prefix, const std::string& what, std::int64_t layers,
                    Step& step) {
  constexpr int kWarm = 5, kTraced = 30;
  for (int i = 0; i < kWarm; ++i) step();
  std::vector<double> wall;
  kb::KernelTrace trace;
  for (int i = 0; i < kTraced; ++i) {
    const auto t0 = Clock::now();
    step();
    wall.push_back(seconds_since(t0));
  }
  const std::vector<kb::KernelSpan> spans = trace.stop();
  const kb::Timeline t = kb::summarize_steps(spans, 16);
  if (t.steps == 0)
    klab::fail("klab bench e2e --timeline: no decode graph in the trace of " + what + " (" +
               std::to_string(spans.size()) + " kernels recorded; KLAB_CUDA_GRAPHS=0?)");
  std::sort(wall.begin(), wall.end());
  const double wall_ms = wall[wall.size() / 2] * 1e3;
  print_timeline(what, t, layers, wall_ms);
  nlohmann::json j = timeline_json(t);
  j["case"] = what;
  j["layers"] = layers;
  j["traced_wall_ms_median"] = wall_ms;
  j["git_commit"] = kb::git_commit();
  const kb::MachineInfo m = kb::machine_info();
  j["gpu"] = m.gpu ? m.gpu->name : std::string("none");
  j["note"] =
      "advance_us: how far the kernel's end moved the step's end (rows sum to span_us); idle_us: "
      "the part of it with no kernel running; busy_us: end - start (a PDL launch's wait "
      "included); overlap_us: time it ran while an earlier kernel still ran. Per step, averaged "
      "over the traced steps. GPU timestamps from CUPTI concurrent-kernel records.";
  const std::string path = prefix + "-" + file_slug(what) + ".json";
  std::ofstream out(path);
  out << j.dump(1) << "\n";
  if (!out) klab::fail("klab bench e2e: cannot write " + path);
  std::fprintf(stderr, "bench: e2e timeline written to %s\n", path.c_str());
}

// dense: the matrices are f16 / bf16 / f32 (not GGUF blocks), which wide batches send to cuBLAS.
std::string decode_variant(std::int64_t batch, bool dense) {
  std::string v = env_is("KLAB_CUDA_GRAPHS", "0") ? "eager" : "graph";
  if (batch <= 8) return v;
  if (dense) return v + "+cublas";
  // 8 < B <= 32: one mma_wide GEMV pass.
  return v + (batch > 32 || env_is("KLAB_CUDA_WIDE_DECODE", "gemm") ? "+gemm" : "+gemv_wide");
}

double finite_or_inf(std::span<const float> logits) {
  for (const float v : logits)
    if (!std::isfinite(v)) return INFINITY;
  return 0.0;
}

kb::Case base_case(const ModelSpec& spec, const Sizes& sizes, const Plan& plan) {
  kb::Case c;
  c.dtype = spec.weight_name + "/f16";
  c.device = plan.device;
  c.host_timed = true;
  c.graph_safe = false;
  c.bytes = static_cast<double>(sizes.step_bytes);
  c.memory_ceiling = plan.device == klab::Device::cuda ? kb::CeilingKind::d2d_copy
                                                       : kb::CeilingKind::host_memcpy_mt;
  c.tolerance = 0.0;  // validate() is 0 when every logit is finite
  c.skip_reason = spec.skip_reason;
  return c;
}

kb::Case decode_case(const ModelSpec& spec, const Sizes& sizes, const Plan& plan,
                     std::int64_t batch, std::int64_t ctx) {
  kb::Case c = base_case(spec, sizes, plan);
  c.op = "e2e_decode";
  c.variant = plan.device == klab::Device::cpu
                  ? "cpu"
                  : decode_variant(batch, !spec.weight_name.starts_with("q"));
  c.shape = spec.label + " " + spec.weight_name + " B=" + std::to_string(batch) +
            " ctx=" + std::to_string(ctx);
  c.dims = {{"batch", batch}, {"ctx", ctx}};
  c.flops = 2.0 * sizes.matrix_params * static_cast<double>(batch);
  c.bound = kb::Bound::memory;
  const klab::LlamaConfig& cfg = sizes.config;
  const double kv = 2.0 * 2.0 * static_cast<double>(cfg.kv_dim() * cfg.n_layers) *
                    static_cast<double>(ctx * batch);
  c.note = "tokens/s = batch x 1e6 / median_us; bytes: weights read per step " + mib(c.bytes) +
           " (bound), KV cache read per step " + mib(kv) + " (not in the bound)";
  c.setup = [spec, plan, batch, ctx, what = c.shape, bytes = c.bytes](const kb::Context&) {
    const std::shared_ptr<Engine> e = acquire(spec, plan);
    klab::Session& s = *e->session;
    if (ctx > s.max_context())
      klab::fail("context " + std::to_string(ctx) + " exceeds the model's " +
                 std::to_string(s.max_context()));
    std::vector<std::int32_t> seqs(static_cast<std::size_t>(batch));
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      seqs[i] = static_cast<std::int32_t>(i);
      s.copy_sequence(e->reserve, seqs[i]);
      s.truncate(seqs[i], ctx - 1);
    }
    auto log = make_log(what, static_cast<double>(batch), bytes);
    constexpr std::size_t kTokenSets = 64;
    auto tokens = std::make_shared<std::vector<std::int32_t>>(
        e->random_ids(kTokenSets * static_cast<std::size_t>(batch)));
    auto step = [e, seqs, tokens, ctx, batch, next = std::size_t{0}]() mutable {
      const std::span<const std::int32_t> ids = std::span(*tokens).subspan(
          next * static_cast<std::size_t>(batch), static_cast<std::size_t>(batch));
      next = (next + 1) % kTokenSets;
      const std::span<const float> logits = e->session->decode_batch(ids, seqs);
      for (const std::int32_t seq : seqs) e->session->truncate(seq, ctx - 1);
      return logits;
    };
    if (!plan.timeline.empty())
      write_timeline(plan.timeline, what, e->model->config().n_layers, step);
    kb::Instance inst;
    inst.run = [step, log](cudaStream_t) mutable {
      const auto t0 = Clock::now();
      step();
      log->seconds.push_back(seconds_since(t0));
    };
    inst.validate = [step]() mutable { return finite_or_inf(step()); };
    return inst;
  };
  return c;
}

kb::Case prefill_case(const ModelSpec& spec, const Sizes& sizes, const Plan& plan) {
  kb::Case c = base_case(spec, sizes, plan);
  const klab::LlamaConfig& cfg = sizes.config;
  const auto n = static_cast<double>(plan.prompt);
  c.op = "e2e_prefill";
  c.variant = "chunked";
  c.shape = spec.label + " " + spec.weight_name + " prompt=" + std::to_string(plan.prompt);
  c.dims = {{"batch", plan.prompt}, {"prompt", plan.prompt}};
  // Matrices, plus causal attention: QK^T and PV over n(n+1)/2 pairs per head.
  c.flops = 2.0 * sizes.matrix_params * n +
            2.0 * 2.0 * static_cast<double>(cfg.q_dim() * cfg.n_layers) * n * (n + 1) / 2;
  c.note = "tokens/s = prompt x 1e6 / median_us; bytes: weights read once per prompt";
  c.setup = [spec, plan, what = c.shape, bytes = c.bytes](const kb::Context&) {
    const std::shared_ptr<Engine> e = acquire(spec, plan);
    if (plan.prompt > e->session->max_context())
      klab::fail("a prompt of " + std::to_string(plan.prompt) + " tokens exceeds the context of " +
                 std::to_string(e->session->max_context()));
    auto prompt = std::make_shared<std::vector<std::int32_t>>(
        e->random_ids(static_cast<std::size_t>(plan.prompt)));
    auto log = make_log(what, static_cast<double>(plan.prompt), bytes);
    const auto once = [e, prompt] {
      e->session->reset(0);
      return e->session->prefill(0, *prompt);
    };
    kb::Instance inst;
    inst.run = [once, log](cudaStream_t) {
      const auto t0 = Clock::now();
      once();
      log->seconds.push_back(seconds_since(t0));
    };
    inst.validate = [once] { return finite_or_inf(once()); };
    return inst;
  };
  return c;
}

// The last case of a model frees it when that case's Instance goes away.
void release_after(kb::Case& c) {
  auto setup = std::move(c.setup);
  c.setup = [setup](const kb::Context& ctx) {
    auto release = std::make_shared<ReleaseEngine>();
    kb::Instance inst = setup(ctx);
    inst.run = [run = std::move(inst.run), release](cudaStream_t s) { run(s); };
    return inst;
  };
}

std::vector<kb::Case> e2e_cases(const Plan& plan) {
  std::vector<kb::Case> out;
  for (const ModelSpec& spec : plan.models) {
    Sizes sizes;
    if (spec.skip_reason.empty()) sizes = sizes_of(spec);
    const std::size_t first = out.size();
    for (const std::int64_t ctx : plan.contexts)
      for (const std::int64_t batch : plan.batches)
        out.push_back(decode_case(spec, sizes, plan, batch, ctx));
    if (plan.prompt > 0) out.push_back(prefill_case(spec, sizes, plan));
    if (out.size() > first) release_after(out.back());
  }
  return out;
}

const kb::FamilyRegistrar e2e_reg{
    {.name = "e2e",
     .help = "end-to-end decode (batch x context) and prefill tokens/s of whole models on CUDA, "
             "vs the bandwidth bound",
     .params = {{"model", "llama2-7b,llama3-8b,default",
                 "synthetic presets (llama2-7b, llama3-8b, tiny), default (the fetched real "
                 "model) or GGUF / HF paths (list)"},
                {"weights", "q4_0,q8_0,f16", "synthetic weight types (list)"},
                {"batch", "1,4,16", "sequences decoded together (list)"},
                {"ctx", "512,4096", "keys each decode step attends over (list)"},
                {"prompt", "512", "prefill prompt tokens (0: no prefill case)"},
                {"device", "cuda", "cuda, or cpu (the same cases on the CPU backend)"},
                {"quick", "false", "llama2-7b q4_0 at batch 1 and 16, ctx 512, + default", true},
                {"timeline", "",
                 "trace each decode step's kernels inside the graph (CUPTI) and write "
                 "PREFIX-<case>.json"}},
     .cases = [](const kb::Params& p) { return e2e_cases(plan_from(p)); },
     // Whole models are too slow for the kernel suites; run `klab bench e2e` on its own.
     .suite = [](kb::Suite) { return std::vector<kb::Case>{}; }}};

}  // namespace
