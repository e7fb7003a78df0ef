// Process-wide autotune state: whether `auto` reads the cache, the loaded entries of this
// machine, the status line reports print, and the per-thread launch observer.
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "klab/autotune.hpp"
#include "klab/device_info.hpp"

#if KLAB_HAS_CUDA
#include <cuda_runtime_api.h>
#endif

namespace klab::autotune {

namespace {

// -1: not decided yet (KLAB_AUTOTUNE is read at the first query), 0 off, 1 on.
std::atomic<int> g_enabled{-1};

bool env_flag_on(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return false;
  std::string s(v);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s == "1" || s == "true" || s == "on" || s == "yes";
}

std::string composite(std::string_view op, const ShapeKey& key) {
  std::string s(op);
  s += '\x1f';
  s += key.bucket;
  s += '\x1f';
  s += key.dtype;
  return s;
}

std::optional<MachineKey> detect_machine() {
#if KLAB_HAS_CUDA
  try {
    if (cuda_device_count() <= 0) return std::nullopt;
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess) {
      (void)cudaGetLastError();
      device = 0;
    }
    const DeviceInfo d = cuda_device_info(device);
    return MachineKey{d.name, d.cc_major, d.cc_minor, d.driver_version};
  } catch (const std::exception&) {
    return std::nullopt;
  }
#else
  return std::nullopt;
#endif
}

struct State {
  std::mutex mutex;
  std::string path_override;
  bool machine_pinned = false;
  std::optional<MachineKey> machine_pin;
  std::function<void(const std::string&)> sink;

  // Filled by load(); valid while `loaded`.
  bool loaded = false;
  std::string path;
  std::optional<MachineKey> machine;
  std::unordered_map<std::string, std::shared_ptr<const Entry>> table;
  std::set<std::string, std::less<>> ops;
  std::string reason;

  void warn(const std::string& message) const {
    if (sink)
      sink(message);
    else
      std::fprintf(stderr, "klab: warning: %s\n", message.c_str());
  }

  std::optional<MachineKey> this_machine() const {
    return machine_pinned ? machine_pin : detect_machine();
  }

  void load() {
    if (loaded) return;
    loaded = true;
    table.clear();
    ops.clear();
    reason.clear();
    path = path_override.empty() ? default_cache_path() : path_override;
    machine = this_machine();
    if (!machine) {
      reason = "no CUDA device";
      return;
    }
    const LoadedCache file = read_cache(path);
    if (!file.exists) {
      reason = "no cache at " + path + " (run klab autotune --write-cache)";
      return;
    }
    if (!file.problem.empty()) {
      warn("ignoring the autotune cache " + path + ": " + file.problem +
           "; auto dispatch uses the built-in defaults");
      reason = "cache ignored: " + file.problem;
      return;
    }
    std::map<std::string, std::size_t> others;
    for (const Entry& e : file.cache.entries()) {
      if (!(e.machine == *machine)) {
        ++others[describe(e.machine)];
        continue;
      }
      table[composite(e.op, e.key)] = std::make_shared<const Entry>(e);
      ops.insert(e.op);
    }
    if (table.empty()) {
      std::string list;
      for (const auto& [m, n] : others)
        list += (list.empty() ? "" : ", ") + std::to_string(n) + " for " + m;
      reason = "the cache at " + path + " has no entries for " + describe(*machine) +
               (list.empty() ? "" : " (it has " + list + ")");
    }
  }
};

State& state() {
  static State s;
  return s;
}

thread_local Observer* t_observer = nullptr;

}  // namespace

void set_enabled(std::optional<bool> on) {
  g_enabled.store(on ? (*on ? 1 : 0) : -1, std::memory_order_relaxed);
}

bool enabled() {
  int v = g_enabled.load(std::memory_order_relaxed);
  if (v < 0) {
    int expected = -1;
    v = env_flag_on("KLAB_AUTOTUNE") ? 1 : 0;
    if (!g_enabled.compare_exchange_strong(expected, v)) v = expected;
  }
  return v == 1;
}

void set_cache_path(std::string path) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.path_override = std::move(path);
  s.loaded = false;
}

std::optional<MachineKey> current_machine() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.this_machine();
}

void set_machine_override(std::optional<MachineKey> machine) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.machine_pinned = machine.has_value();
  s.machine_pin = std::move(machine);
  s.loaded = false;
}

void reload() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.loaded = false;
}

void set_warning_sink(std::function<void(const std::string&)> sink) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.sink = std::move(sink);
}

bool has_entries(std::string_view op) {
  if (!enabled()) return false;
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.load();
  return s.ops.find(op) != s.ops.end();
}

std::shared_ptr<const Entry> lookup(std::string_view op, const ShapeKey& key) {
  if (!enabled() || key.bucket.empty()) return nullptr;
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.load();
  const auto it = s.table.find(composite(op, key));
  return it == s.table.end() ? nullptr : it->second;
}

Status status() {
  Status st;
  st.enabled = enabled();
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (!st.enabled) {
    st.path = s.path_override.empty() ? default_cache_path() : s.path_override;
    st.reason = "off; --use-autotune or KLAB_AUTOTUNE=1 turns it on";
    return st;
  }
  s.load();
  st.path = s.path;
  st.machine = s.machine;
  st.entries = s.table.size();
  st.using_cache = !s.table.empty();
  st.reason = s.reason;
  return st;
}

std::string describe(const Status& s) {
  if (s.using_cache)
    return "autotune: auto dispatch reads " + std::to_string(s.entries) + " tuned entries for " +
           (s.machine ? describe(*s.machine) : std::string("this GPU")) + " from " + s.path;
  return "autotune: auto dispatch uses the built-in defaults (" + s.reason + ")";
}

Observer::Observer(std::string stop_after)
    : stop_after_(std::move(stop_after)), previous_(t_observer) {
  t_observer = this;
}

Observer::~Observer() {
  t_observer = previous_;
}

void Observer::record(Observation o) {
  if (done_) return;
  const bool last = stop_after_.empty() || o.variant == stop_after_;
  seen_.push_back(std::move(o));
  done_ = last || seen_.size() >= kMaxSeen;
}

Observer* current_observer() {
  return t_observer;
}

}  // namespace klab::autotune
