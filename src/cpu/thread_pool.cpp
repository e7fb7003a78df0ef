#include "klab/cpu_thread_pool.hpp"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace klab::cpu {
namespace {

// How long a waiting thread polls before it sleeps in the kernel: long enough to cover the
// gap between two jobs of one decode step, short enough not to steal a shared core for long.
constexpr auto kSpinTime = std::chrono::microseconds(40);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `done` with pause instructions until it holds or kSpinTime has passed.
template <class Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

// Task t of a part of a job that was split is task base + t of the whole.
struct ShiftedJob {
  void (*fn)(void*, std::int64_t);
  void* ctx;
  std::int64_t base;
  static void call(void* self, std::int64_t t) {
    const auto* j = static_cast<const ShiftedJob*>(self);
    j->fn(j->ctx, j->base + t);
  }
};

int read_int_file(const std::string& path) {
  std::ifstream in(path);
  int v = -1;
  in >> v;
  return in ? v : -1;
}

int logical_count(const cpu_set_t& set) {
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

}  // namespace

int default_thread_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    const unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? static_cast<int>(n) : 1;
  }
  // Count distinct (package, core) pairs so hyper-threads of one core count once.
  std::set<std::pair<int, int>> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    const int package = read_int_file(dir + "physical_package_id");
    const int core = read_int_file(dir + "core_id");
    if (package < 0 || core < 0) return logical_count(set);
    cores.emplace(package, core);
  }
  return cores.empty() ? 1 : static_cast<int>(cores.size());
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = default_thread_count();
  workers_.reserve(static_cast<std::size_t>(threads - 1));
  for (int i = 1; i < threads; ++i)
    workers_.emplace_back([this](std::stop_token stop) { worker_loop(stop); });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true, std::memory_order_release);
  claim_.fetch_add(std::uint64_t{1} << (2 * kIndexBits), std::memory_order_release);
  wake_.fetch_add(1, std::memory_order_release);
  wake_.notify_all();
  // The jthreads join in their destructors.
}

void ThreadPool::work_on(std::uint64_t generation) {
  std::uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if ((c >> (2 * kIndexBits)) != generation) return;
    const std::uint64_t index = c & kIndexMask;
    const std::uint64_t n_tasks = (c >> kIndexBits) & kIndexMask;
    if (index >= n_tasks) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
      continue;
    // A claimed task keeps the job alive: the caller waits for it before publishing another.
    job_fn_.load(std::memory_order_relaxed)(job_ctx_.load(std::memory_order_relaxed),
                                            static_cast<std::int64_t>(index));
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == static_cast<std::int32_t>(n_tasks))
      done_.notify_all();
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::run_erased(std::int64_t n_tasks, TaskFn fn, void* ctx) {
  if (n_tasks <= 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (std::int64_t t = 0; t < n_tasks; ++t) fn(ctx, t);
    return;
  }
  // Jobs larger than the claim word can count run as consecutive jobs.
  constexpr std::int64_t kMaxTasks = kMaxTasksPerJob - 1;
  if (n_tasks > kMaxTasks) {
    for (std::int64_t base = 0; base < n_tasks; base += kMaxTasks) {
      ShiftedJob part{fn, ctx, base};
      run_erased(std::min(kMaxTasks, n_tasks - base), &ShiftedJob::call, &part);
    }
    return;
  }
  job_fn_.store(fn, std::memory_order_relaxed);
  job_ctx_.store(ctx, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  const std::uint64_t generation = ++generation_ & ((std::uint64_t{1} << 24) - 1);
  claim_.store(generation << (2 * kIndexBits) | static_cast<std::uint64_t>(n_tasks) << kIndexBits,
               std::memory_order_release);
  wake_.fetch_add(1, std::memory_order_release);
  wake_.notify_all();

  work_on(generation);

  // Wait for the tasks the workers claimed (all others have run here).
  const auto total = static_cast<std::int32_t>(n_tasks);
  const auto finished = [&] { return done_.load(std::memory_order_acquire) == total; };
  if (spin_until(finished)) return;
  for (std::int32_t d; (d = done_.load(std::memory_order_acquire)) != total;)
    done_.wait(d, std::memory_order_acquire);
}

void ThreadPool::worker_loop(std::stop_token stop) {
  const auto generation = [&] {
    return claim_.load(std::memory_order_acquire) >> (2 * kIndexBits);
  };
  const auto stopping = [&] {
    return stopping_.load(std::memory_order_acquire) || stop.stop_requested();
  };
  std::uint64_t last = 0;  // generation of the last job worked on; 0 is "no job yet"
  for (;;) {
    // Read wake_ before looking at claim_: a publish (or the stop) after this read changes
    // wake_, so the wait below returns at once instead of missing it. The stop is checked
    // here too, since the last job's claim word may already carry the final generation.
    const std::uint32_t w = wake_.load(std::memory_order_acquire);
    if (stopping()) return;
    if (!spin_until([&] { return generation() != last; })) wake_.wait(w, std::memory_order_acquire);
    if (stopping()) return;
    const std::uint64_t g = generation();
    if (g == last) continue;  // woken without a new job
    last = g;
    work_on(g);
  }
}

}  // namespace klab::cpu
