// Autotuning: which kernel variant wins, per GPU, op, shape bucket and dtype, remembered in a
// JSON cache that `auto` dispatch reads when enabled (`--use-autotune`, KLAB_AUTOTUNE=1).
//
//   klab autotune --quick --write-cache     measures (src/bench/autotune_tuner.cpp) and writes
//   OpRegistry::pick(args, "auto")          reads: the cached winner when it supports args,
//                                           else the built-in auto choice (registry.hpp)
//
// An op takes part by registering a bucket function next to its auto choice:
//   reg.set_bucket([](const Args& a) {
//     return autotune::key(a.x.dtype, {{"T", autotune::range(a.x.dim(0))}, {"H", a.x.dim(1)}});
//   });
// Buckets name the dims that pick the kernel: exact model widths (H, D, heads) and power-of-two
// ranges for what varies at run time (tokens, batch, context). Ops without one are not tuned.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "klab/dtype.hpp"

namespace klab::autotune {

// ---- keys ---------------------------------------------------------------------------------------
// The machine a measurement belongs to; a cache entry applies only to an equal key.
struct MachineKey {
  std::string gpu;  // cudaDeviceProp::name, e.g. "NVIDIA H100 80GB HBM3"
  int cc_major = 0;
  int cc_minor = 0;
  int driver = 0;  // cudaDriverGetVersion, e.g. 13000
  bool operator==(const MachineKey&) const = default;
};
std::string describe(const MachineKey& m);  // "NVIDIA H100 80GB HBM3 (cc 9.0, driver 13000)"

// What an op's bucket function returns. An empty bucket means "do not tune these arguments".
struct ShapeKey {
  std::string bucket;  // e.g. "T=2049..4096,H=4096"
  std::string dtype;   // e.g. "bf16", "q4_g32_sym/f16"
  bool operator==(const ShapeKey&) const = default;
};

// One dim of a bucket: a name and its exact value or range text.
struct Dim {
  Dim(std::string n, std::int64_t exact);
  Dim(std::string n, std::string text);
  Dim(std::string n, const char* text) : Dim(std::move(n), std::string(text)) {}
  std::string name;
  std::string value;
};
// The power-of-two range holding n >= 1: "1", "2", "3..4", "5..8", ..., "2049..4096".
// n <= 0 gives "0".
std::string range(std::int64_t n);
// "name=value" pairs joined by ','.
ShapeKey key(std::string dtype, std::initializer_list<Dim> dims);
ShapeKey key(DType dtype, std::initializer_list<Dim> dims);

// ---- cache --------------------------------------------------------------------------------------
inline constexpr std::string_view kSchema = "klab-autotune/1";

// One measured (machine, op, bucket, dtype). Only winner and invalid steer dispatch; the rest
// documents the measurement.
struct Entry {
  MachineKey machine;
  std::string op;  // registry op name, e.g. "rmsnorm", "gemv_q"
  ShapeKey key;
  std::string winner;                // fastest valid variant; empty: none passed validation
  std::vector<std::string> invalid;  // failed validation against klab::ref: never chosen
  std::string default_choice;        // the built-in auto choice when it was measured
  struct Shape {
    std::string shape;                        // the benchmark case's shape text
    std::map<std::string, double> median_us;  // every valid variant timed
  };
  std::vector<Shape> measured;
  std::vector<std::string> errors;  // "variant: message" of variants that could not run
  std::string date;                 // ISO 8601 UTC
  std::string suite;                // "quick" / "full"
  std::string git_commit;

  bool is_invalid(std::string_view variant) const;
};

class Cache {
 public:
  // Throws Error (one line) on anything but a complete, well-typed klab-autotune/1 document.
  static Cache parse(std::string_view json_text);
  std::string to_json_text() const;

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const MachineKey& m, std::string_view op, const ShapeKey& key) const;
  // Adds e, replacing the entry of the same machine, op, bucket and dtype.
  void put(Entry e);
  std::size_t count_for(const MachineKey& m) const;

 private:
  std::vector<Entry> entries_;
};

// ${KLAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/klab}/autotune.json
std::string default_cache_path();

struct LoadedCache {
  Cache cache;
  bool exists = false;
  std::string problem;  // non-empty: the file exists but was ignored (corrupt, wrong schema)
};
// Never throws for a bad file: an unreadable or corrupt one gives an empty cache and `problem`.
LoadedCache read_cache(const std::string& path);
// Writes path.tmp.<pid> next to it, then renames over path (readers never see half a file);
// creates the directory. Throws Error on I/O failure.
void write_cache(const Cache& cache, const std::string& path);

// ---- dispatch (process-wide) -------------------------------------------------------------------
// On or off; nullopt (the start state): KLAB_AUTOTUNE=1|true|on|yes, read at the next query.
void set_enabled(std::optional<bool> on);
bool enabled();
// The cache `auto` reads; default default_cache_path(). Takes effect at the next load.
void set_cache_path(std::string path);
// This process's machine (the current CUDA device), or nullopt without one. A test may pin it.
std::optional<MachineKey> current_machine();
void set_machine_override(std::optional<MachineKey> machine);
// Drops the loaded cache; the next query reads the file again.
void reload();
// Where warnings go (default: one "klab: warning: ..." line on stderr).
void set_warning_sink(std::function<void(const std::string&)> sink);

// True when dispatch is enabled and the cache holds an entry of `op` for this machine
// (cheap: lets pick() skip computing a bucket for untuned ops).
bool has_entries(std::string_view op);
// The entry for op and key on this machine, or null.
std::shared_ptr<const Entry> lookup(std::string_view op, const ShapeKey& key);

// Which choices `auto` makes in this process, for reports (`klab bench` prints and records it).
struct Status {
  bool enabled = false;
  bool using_cache = false;  // enabled, and the cache has entries for this machine
  std::string path;
  std::size_t entries = 0;  // for this machine
  std::string reason;       // why the built-in defaults are used (empty when using_cache)
  std::optional<MachineKey> machine;
};
Status status();
std::string describe(const Status& s);  // one line

// ---- observation
// --------------------------------------------------------------------------------- What one
// registry launch saw: the tuner learns each benchmark case's op, bucket and auto choices from the
// launches the case makes, so buckets are computed only in one place.
struct Observation {
  std::string op;
  std::string variant;       // the variant launched
  ShapeKey key;              // empty bucket: the op has no bucket function
  std::string auto_default;  // pick(args, "auto") without the cache ("" when it throws)
  std::string auto_tuned;    // pick(args, "auto") as dispatch would do now
  std::string problem;       // the bucket function threw
};

// Installs itself as this thread's observer for its lifetime (restoring the previous one).
// Records launches until one of `stop_after` ("": any) was seen, at most kMaxSeen.
class Observer {
 public:
  static constexpr std::size_t kMaxSeen = 16;
  explicit Observer(std::string stop_after = "");
  ~Observer();
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  bool wants_more() const { return !done_; }
  void record(Observation o);
  const std::vector<Observation>& seen() const { return seen_; }

 private:
  std::string stop_after_;
  std::vector<Observation> seen_;
  bool done_ = false;
  Observer* previous_ = nullptr;
};
Observer* current_observer();

}  // namespace klab::autotune
