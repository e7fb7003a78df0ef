// The benchmark harness behind `klab bench`: cases, timing, ceilings, JSON/CSV results.
//
// HOW A KERNEL FAMILY ADDS ITS BENCHMARKS (one file, no CMake edit):
//   Write `tools/klab/bench_<family>.cpp` (it is globbed into the klab CLI, so its static
//   registrar always links). Guard CUDA-only parts with `#if KLAB_HAS_CUDA`; without CUDA,
//   register the family anyway and return cases whose `device` is Device::cuda: the harness
//   reports them as skipped. Skeleton:
//
//     namespace kb = klab::bench;
//     std::vector<kb::Case> gemv_cases(const kb::Params& p) {   // one case per variant
//       std::vector<kb::Case> out;
//       for (auto M : p.ints("M")) for (auto& v : klab::cuda::gemv_registry().variants()) {
//         kb::Case c;
//         c.op = "gemv"; c.variant = v.name; c.dtype = "q4_g32_sym/f16";
//         c.shape = "M=1,K=4096,N=14336"; c.dims = {{"M", M}, {"K", K}, {"N", N}};
//         c.bytes = weights + scales + x + y;            // each read or written once
//         c.flops = 2.0 * M * N * K;
//         c.setup = [=](const kb::Context& ctx) {        // runs only when the case is timed
//           auto s = std::make_shared<State>(...);       // this variant's device sets
//           s->shape = kb::shared_state<Shape>(key, make); // host data + reference, per shape
//           s->sets = ctx.rotation_sets(bytes_per_set);  // >1 set: runs rotate past L2
//           return kb::Instance{
//               .run = [s](cudaStream_t st) { launch(s->rot.next(), st); },
//               .validate = [s] { /* poison, run set 0, download, */ return rel_error; },
//               .sets = s->rot.size()};
//         };
//         out.push_back(std::move(c));
//       }
//       return out;
//     }
//     static kb::FamilyRegistrar reg{{.name = "gemv", .help = "quantized GEMV",
//         .params = {{"bits", "4", "4 or 8"}, {"M", "1", "rows of x (list: 1,2,8)"}, ...},
//         .cases = gemv_cases,
//         .suite = [](kb::Suite s) { ... the test table's shapes ... }}};
//
//   The harness filters cases by `--variant`, runs setup(), validates (before timing), warms
//   up, times with CUDA events (graph-captured batches when possible), and records the result.
//   Host work is what makes a suite slow (the timed part is ~0.07 s a case): share a shape's
//   random inputs and reference output between its variants (shared_state), fill and compare
//   on every core (fill_random_host, rel_error, all_finite, parallel_for, ref_*_parallel).
//   A worked example is src/bench/peers_cublas.cpp (cuBLAS fp16/bf16 GEMV/GEMM peers) and
//   src/bench/copy_family.cpp (D2D copy).
//
// Counting: `bytes` = fewest bytes the op must move (each input read once, each output
// written once), `flops` = 2 * multiply-adds. Either may be 0. % of ceiling is
// floor_time / measured_time where floor_time = max(bytes / copy_BW, flops / GEMM_rate)
// using the ceilings measured in the same run (for Bound::automatic; a case may pin it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <vector>

#include <nlohmann/json.hpp>

#include "klab/buffer.hpp"
#include "klab/device_info.hpp"
#include "klab/quant.hpp"
#include "klab/tensor.hpp"

using cudaStream_t = struct CUstream_st*;

namespace klab::bench {

// ---- statistics -----------------------------------------------------------------------------
// Percentile by linear interpolation between order statistics (q in [0, 1]); the input need
// not be sorted. Throws Error on an empty sample.
double percentile(std::span<const double> samples, double q);

struct Stats {
  double min = 0, p10 = 0, median = 0, p90 = 0, max = 0, mean = 0;
  std::size_t count = 0;
};
Stats summarize(std::span<const double> samples);

// ---- ceilings ---------------------------------------------------------------------------------
enum class CeilingKind : std::uint8_t {
  none,
  host_memcpy,     // std::memcpy, one thread, read + write bytes       [GB/s]
  host_memcpy_mt,  // std::memcpy on every core, read + write bytes      [GB/s]
  d2d_copy,        // cudaMemcpyAsync device-to-device >= 1 GiB, r + w   [GB/s]
  gemm_f16,        // cuBLAS 8192^3 fp16 in, fp32 accumulate, tensor op  [TFLOP/s]
  gemm_bf16,       // same, bf16                                         [TFLOP/s]
};
std::string_view ceiling_name(CeilingKind k);
CeilingKind parse_ceiling_kind(std::string_view name);  // throws Error
bool is_bandwidth_ceiling(CeilingKind k);               // GB/s (else TFLOP/s)

struct Ceiling {
  CeilingKind kind = CeilingKind::none;
  std::optional<double> value;  // GB/s or TFLOP/s; empty when not measurable here
  Stats time_us;                // of one transfer / product
  double bytes = 0;             // per rep (read + write)
  double flops = 0;             // per rep
  std::string what;             // how it was measured
  std::string note;             // e.g. "no CUDA device"
};

struct CeilingOptions {
  std::size_t host_bytes = std::size_t{256} << 20;  // per buffer
  std::size_t d2d_bytes = std::size_t{1} << 30;     // per buffer (>= 1 GiB)
  int gemm_size = 8192;                             // M = N = K
  int reps = 15;
  bool gpu = true;  // false: only the host ceilings
};

// Measures all ceilings (GPU ones only when a CUDA device is present and options.gpu).
std::vector<Ceiling> measure_ceilings(const CeilingOptions& options = {});
// Host copy GB/s (read + write bytes) with `threads` threads over `bytes`-sized buffers.
Ceiling measure_host_memcpy(std::size_t bytes, int threads, int reps);
const Ceiling* find_ceiling(std::span<const Ceiling> ceilings, CeilingKind kind);

// ---- machine -----------------------------------------------------------------------------------
struct MachineInfo {
  std::string cpu_model;
  int cpu_cores = 0;  // logical CPUs online
  std::string os;
  bool built_with_cuda = false;
  std::optional<DeviceInfo> gpu;
  int cublas_version = 0;
};
MachineInfo machine_info();
// "h100-80gb-hbm3" style slug of the GPU name, or "cpu".
std::string machine_slug(const MachineInfo& m);

// ---- cases
// ---------------------------------------------------------------------------------------
enum class Bound : std::uint8_t { automatic, memory, compute };

// What setup() hands back. Closures own their state (capture a shared_ptr).
struct Instance {
  // One run of the op on `stream` (nullptr for CPU cases). Must be graph-capturable unless
  // Case::graph_safe is false: no sync calls, no allocation, no host-side waits.
  std::function<void(cudaStream_t)> run;
  // Optional: poison outputs, run once on fresh data, compare with klab::ref; returns
  // ||out - ref|| / ||ref|| (inf for NaN). Runs before timing.
  std::function<double()> validate;
  // How many distinct input sets run() cycles through (Rotation::size()). The harness replays
  // a CUDA graph of whole cycles, so a graph never pins the loop to the first few sets.
  std::size_t sets = 1;
};

// Thrown by a setup() whose variant turns the case down once the arguments exist (e.g. an x
// too large for a variant's shared memory): the harness reports the case as skipped, with the
// message as its skip_reason, not as an error.
struct Unsupported : Error {
  using Error::Error;
};

struct Context {
  bool has_gpu = false;
  std::int64_t l2_bytes = 0;  // GPU cases: the device's L2; CPU cases: the last-level cache
  bool rotate = true;         // false: --no-rotate (measure the cache-warm case)
  std::uint64_t seed = 0;
  // How many copies of a `bytes_per_set` working set to cycle through so that each run
  // misses the cache: ceil(3 * L2 / bytes_per_set), within [1, max_sets] and a 4 GiB total.
  int rotation_sets(std::size_t bytes_per_set, int max_sets = 64) const;
};

// Naming convention (so the report lines peers up with kernels): `op` names the math, not the
// types: "gemv" (y = x W^T, M <= 8), "gemm" (M > 8), "rmsnorm", "add_rmsnorm", "rope",
// "swiglu", "decode_attention", "prefill_attention", "dequant", "copy"... `dtype` carries the
// types, weights first for quantized ops: "f16", "bf16", "q4_g32_sym/f16", "q8_0/bf16".
// `variant` is the registry name; peers use "cublas" / "cuda_memcpy".
struct Case {
  std::string op;                            // e.g. "gemv", "rmsnorm", "decode_attention"
  std::string variant;                       // registry variant name, or a peer like "cublas"
  std::string shape;                         // human-readable, e.g. "M=1,K=4096,N=14336"
  std::string dtype;                         // activation dtype, e.g. "f16", "bf16", "q4_g32/f16"
  std::map<std::string, std::int64_t> dims;  // numeric shape, for plots (x axis)
  double bytes = 0;
  double flops = 0;
  Bound bound = Bound::automatic;
  Device device = Device::cuda;
  CeilingKind compute_ceiling = CeilingKind::none;  // none: gemm_bf16 if dtype has "bf16"
  CeilingKind memory_ceiling = CeilingKind::none;   // none: d2d_copy (GPU), host_memcpy_mt (CPU)
  double tolerance = 1e-2;                          // on validate()'s relative error
  bool graph_safe = true;
  // A GPU case timed by the host clock (wall time of run(), which returns only when its work is
  // done): end-to-end steps that synchronize and copy results back, like `bench e2e`.
  bool host_timed = false;
  // False for variants validated against another oracle (other numerics, e.g. int8-quantized
  // activations): timed, never chosen by autotune for `auto`.
  bool auto_candidate = true;
  std::string skip_reason;  // non-empty: reported as skipped without setup
  std::string note;
  std::function<Instance(const Context&)> setup;
};

struct Result {
  Case meta;  // setup closure cleared
  bool skipped = false;
  std::string skip_reason;
  std::string error;  // setup / run threw: message
  Stats time_us;
  std::size_t reps = 0;   // timed runs (samples * inner)
  std::size_t inner = 1;  // runs per timed sample
  std::string timing;     // "cuda_graph", "cuda_events", "host_clock"
  std::optional<double> gbps, tflops, pct_of_ceiling;
  CeilingKind ceiling_kind = CeilingKind::none;
  std::optional<double> rel_error;
  std::optional<bool> valid;
  // Host wall seconds of the phases, for finding what makes a suite slow (not a result).
  double setup_s = 0, validate_s = 0, timing_s = 0;
};

struct RunOptions {
  std::string variant = "all";  // exact variant name, or "all"
  bool validate = true;
  bool rotate = true;
  std::optional<bool> has_gpu;   // default: cuda_device_count() > 0 (tests force false)
  double target_seconds = 0.25;  // timed time per case (after warm-up)
  int min_samples = 20;
  int max_samples = 400;
  double min_sample_us = 20.0;  // batch runs until a sample is at least this long
  double warmup_seconds = 0.03;
  bool verbose = true;  // one progress line per case on stderr
};

// Times one case (setup, validate, warm-up, samples) and derives rates against `ceilings`.
Result run_case(const Case& c, std::span<const Ceiling> ceilings, const RunOptions& opt);
std::vector<Result> run_cases(std::span<const Case> cases, std::span<const Ceiling> ceilings,
                              const RunOptions& opt);
// Fills gbps / tflops / pct_of_ceiling / ceiling_kind of r from its meta and ceilings.
void derive_rates(Result& r, std::span<const Ceiling> ceilings);

// ---- families
// ------------------------------------------------------------------------------------
enum class Suite : std::uint8_t { quick, full };
std::string_view suite_name(Suite s);

struct Param {
  std::string name;           // CLI option --<name>
  std::string default_value;  // as text; lists are comma separated
  std::string help;
  bool flag = false;  // a value-less switch: "true" when given, else default_value
};

// Family parameters as given on the command line (defaults filled in).
class Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, std::string> values) : values_(std::move(values)) {}
  const std::string& str(const std::string& name) const;  // throws Error when unknown
  std::int64_t i64(const std::string& name) const;
  double f64(const std::string& name) const;
  bool flag(const std::string& name) const;                       // 1/0, true/false, yes/no, on/off
  std::vector<std::int64_t> ints(const std::string& name) const;  // "1,2,8"
  std::vector<std::string> strs(const std::string& name) const;   // "f16,bf16"
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

struct Family {
  std::string name;
  std::string help;
  std::vector<Param> params;
  std::function<std::vector<Case>(const Params&)> cases;  // `klab bench <name> ...`
  std::function<std::vector<Case>(Suite)> suite;          // `klab bench --suite ...`
};

void register_family(Family f);  // throws Error on a duplicate name
std::vector<Family>& families();
const Family* find_family(std::string_view name);
// The families that live in klab_bench itself (copy, cublas peers); idempotent.
void register_builtin_families();

struct FamilyRegistrar {
  explicit FamilyRegistrar(Family f) { register_family(std::move(f)); }
};

// ---- helpers for writing cases
// --------------------------------------------------------------------- Cache-sized rotation: owns
// `count` sets and hands them out round-robin.
template <class Set>
class Rotation {
 public:
  Rotation() = default;
  explicit Rotation(std::vector<Set> sets) : sets_(std::move(sets)) {}
  Set& next() {
    Set& s = sets_.at(i_);
    i_ = (i_ + 1) % sets_.size();
    return s;
  }
  Set& first() { return sets_.at(0); }
  std::size_t size() const { return sets_.size(); }
  std::vector<Set>& sets() { return sets_; }

 private:
  std::vector<Set> sets_;
  std::size_t i_ = 0;
};

// Copies host bytes into a new device buffer (throws Error without CUDA).
DeviceBuffer upload_bytes(const void* host, std::size_t bytes);
// `copies` device buffers holding the same host bytes.
std::vector<DeviceBuffer> upload_copies(const void* host, std::size_t bytes, int copies);
// Uniform random values in [lo, hi) written on the device (fast for large benchmark inputs;
// f32/f16/bf16). Validation data should still come from the host so klab::ref sees it.
void fill_random_device(void* data, std::size_t count, DType dtype, std::uint64_t seed, float lo,
                        float hi, cudaStream_t stream = nullptr);
// Fills a host float tensor with uniform [lo, hi) values from `seed`: a counter-based hash of
// (seed, index), filled on every core (tens of millions of elements in a fraction of a second).
void fill_random_host(const TensorView& t, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f);
// The counter-based hash behind fill_random_host: 64 well-mixed bits per (seed, index), for
// other random host data (quantized codes, scales) filled in parallel.
std::uint64_t random_u64(std::uint64_t seed, std::uint64_t index);
// ||out - ref|| / ||ref|| over host float views of equal numel; NaN/inf gives +inf.
double rel_error(const TensorView& out, const TensorView& ref);
// A fresh seed (random_device), for Context::seed and fresh inputs per check.
std::uint64_t fresh_seed();

// ---- host work of setup and validation, on every core
// ----------------------------------------------------------------------
// Runs body(begin, end) over [0, n) in contiguous chunks of at least `grain` items on up to every
// core (the calling thread takes one chunk); rethrows the first exception a chunk threw. For the
// host side of setup and validation (inputs, reference calls over independent rows or heads,
// comparisons), never inside a timed run.
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body);
// Elements [begin, begin + count) of a host float view (row-major order, strides honoured) as f32.
void load_floats(const TensorView& t, std::int64_t begin, std::int64_t count, float* out);
// A host f32 copy of a host float view (same shape; exact for f16/bf16).
HostTensor to_host_f32(const TensorView& t);
// Elements [begin, end) of dimension `dim` of a view (same strides, no copy).
TensorView slice_dim(const TensorView& t, int dim, std::int64_t begin, std::int64_t end);
// klab::ref::matmul (w: [N, K] float) and klab::ref::quant_matmul with y's columns split over
// every core: each output is still the reference's own f64 sum over K. x is read as f32 (an
// exact copy), which the reference loads fastest.
void ref_matmul_parallel(const TensorView& y, const TensorView& x, const TensorView& w);
void ref_quant_matmul_parallel(const TensorView& y, const TensorView& x, const QuantMatrix& w);
// The same with klab::ref::quant_matmul_q8act: the oracle of the GEMV variants that quantize x
// to int8 (klab::cuda::gemv_uses_q8_activations). Splitting y's columns splits W's rows only, so
// every split quantizes the same x blocks.
void ref_quant_matmul_q8act_parallel(const TensorView& y, const TensorView& x,
                                     const QuantMatrix& w);
// True when every element of a host float view is finite (NaN, inf and the 0xFF poison are not).
bool all_finite(const TensorView& t);
// `count` distinct indices of [0, n) drawn from `seed`, ascending, always with n - 1 (the last,
// possibly partial, tile); every index when count >= n.
std::vector<std::int64_t> sample_indices(std::int64_t n, std::int64_t count, std::uint64_t seed);
// How many 4-byte words (and trailing bytes) of two device buffers differ, counted on the device
// (a copy's check without bringing gigabytes to the host). Throws Error without CUDA.
std::uint64_t count_device_mismatches(const void* a, const void* b, std::size_t bytes);

// ---- one shape's host work, shared by its variants
// --------------------------------------------------------------------------
// The cases of one shape (its variants) run back to back, and each used to redo the same host
// work: random inputs, quantized or re-laid-out weights, uploads, and above all the reference
// output. A setup() keeps such state under a key that names everything it depends on (op,
// dtypes, shape, layout), and the next variant's setup() finds it: inputs stay fresh per shape
// and run, outputs are still poisoned before each variant's run. The store holds the few most
// recently used keys (a family's shapes follow each other); run_cases() empties it at the end.
namespace detail {
std::shared_ptr<void> find_shared(const std::string& key, std::type_index type);
void keep_shared(const std::string& key, std::type_index type, std::shared_ptr<void> value);
}  // namespace detail

// The state kept under `key`, or make()'s (a std::shared_ptr<T>), which is then kept.
template <class T, class Make>
std::shared_ptr<T> shared_state(const std::string& key, Make&& make) {
  if (auto found = detail::find_shared(key, typeid(T))) return std::static_pointer_cast<T>(found);
  std::shared_ptr<T> made = make();
  detail::keep_shared(key, typeid(T), std::const_pointer_cast<std::remove_const_t<T>>(made));
  return made;
}
// Drops every kept state (cases still holding one keep it alive).
void clear_shared_state();

// ---- report
// ------------------------------------------------------------------------------------------
struct Report {
  MachineInfo machine;
  std::vector<Ceiling> ceilings;
  std::string date;  // ISO 8601 UTC
  std::string command;
  std::string git_commit;
  std::string suite;  // "quick", "full", a family name, or "ceilings"
  std::vector<Result> cases;
  nlohmann::json autotune;  // what "auto" dispatch used (autotune::to_json(Status)); null: unknown
};

nlohmann::json to_json(const MachineInfo& m);
nlohmann::json to_json(const Ceiling& c);
nlohmann::json to_json(const Result& r);
nlohmann::json to_json(const Report& r);
// Reads back what to_json wrote (throws Error on a malformed document).
Report report_from_json(const nlohmann::json& j);

void write_json(const Report& r, const std::string& path);  // creates parent directories
void write_csv(const Report& r, const std::string& path);
// bench/results/<YYYY-MM-DD>-<gpu-or-cpu>-<suite>.json (relative to the working directory).
std::string default_json_path(const Report& r);
std::string utc_now_iso8601();
std::string git_commit();  // $KLAB_GIT_COMMIT, else `git rev-parse` of the source tree

// Short human table of results (stdout), and of ceilings.
std::string format_table(const Report& r);

}  // namespace klab::bench
