#include "klab/cpu_thread_pool.hpp"

#include <sched.h>

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
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  // The jthreads join in their destructors.
}

void ThreadPool::work_on_current_job() {
  for (;;) {
    const std::int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= job_tasks_) return;
    job_fn_(job_ctx_, task);
  }
}

void ThreadPool::run_erased(std::int64_t n_tasks, TaskFn fn, void* ctx) {
  if (n_tasks <= 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (std::int64_t t = 0; t < n_tasks; ++t) fn(ctx, t);
    return;
  }
  job_fn_ = fn;
  job_ctx_ = ctx;
  job_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  busy_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();

  work_on_current_job();

  // Wait until every worker is done with this job, so none touches it after we return.
  if (spin_until([&] { return busy_workers_.load(std::memory_order_acquire) == 0; })) return;
  for (int busy; (busy = busy_workers_.load(std::memory_order_acquire)) != 0;)
    busy_workers_.wait(busy, std::memory_order_acquire);
}

void ThreadPool::worker_loop(std::stop_token stop) {
  // Workers start before any job exists, so generation 0 is "no job yet".
  std::uint32_t seen = 0;
  for (;;) {
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }))
      generation_.wait(seen, std::memory_order_acquire);
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire) || stop.stop_requested()) return;
    work_on_current_job();
    if (busy_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) busy_workers_.notify_one();
  }
}

}  // namespace klab::cpu
