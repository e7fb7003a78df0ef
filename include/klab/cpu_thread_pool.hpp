// A small fork-join thread pool for the CPU backend: the caller plus (threads - 1) std::jthread
// workers run the tasks of one job at a time. Workers spin briefly before sleeping, because a
// decode step issues a few hundred short jobs back to back.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace klab::cpu {

// Physical cores this process may use (falls back to std::thread::hardware_concurrency()).
int default_thread_count();

class ThreadPool {
 public:
  // threads <= 0: default_thread_count().
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Threads that work on a job, the caller included.
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(task) for every task in [0, n_tasks) and returns when all are done. Tasks are
  // handed out dynamically, so uneven tasks balance themselves. Tasks must not throw.
  // Not reentrant: a task must not call run() on the same pool.
  template <class F>
  void run(std::int64_t n_tasks, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run_erased(
        n_tasks, [](void* ctx, std::int64_t task) { (*static_cast<Fn*>(ctx))(task); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Splits [0, n) into chunks of `grain` (the last may be shorter): fn(begin, end).
  template <class F>
  void parallel_for(std::int64_t n, std::int64_t grain, F&& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    const std::int64_t chunks = (n + grain - 1) / grain;
    run(chunks, [&](std::int64_t c) { fn(c * grain, std::min(n, (c + 1) * grain)); });
  }

 private:
  using TaskFn = void (*)(void*, std::int64_t);
  void run_erased(std::int64_t n_tasks, TaskFn fn, void* ctx);
  void worker_loop(std::stop_token stop);
  // Claims and runs tasks of the job tagged `generation` until none is left (returns at once
  // when that job is over and a newer one, or none, is published).
  void work_on(std::uint64_t generation);

  // A task is claimed by a CAS on claim_ = generation << 40 | n_tasks << 20 | next_index, so a
  // worker that wakes late cannot claim anything of a finished job, and the caller only waits
  // for tasks actually claimed, never for a worker that is still asleep.
  static constexpr int kIndexBits = 20;
  static constexpr std::uint64_t kIndexMask = (std::uint64_t{1} << kIndexBits) - 1;
  static constexpr std::int64_t kMaxTasksPerJob = std::int64_t{1} << kIndexBits;

  std::vector<std::jthread> workers_;
  std::atomic<TaskFn> job_fn_{nullptr};
  std::atomic<void*> job_ctx_{nullptr};
  std::atomic<std::uint64_t> claim_{0};
  // Sleeping happens only on 32-bit words: libstdc++ (GCC 12) waits on 64-bit atomics through
  // a shared proxy whose wake-ups can be lost, which hung the pool about 1 run in 50.
  std::atomic<std::uint32_t> wake_{0};  // bumped after every publish of claim_ (and at stop)
  std::atomic<std::int32_t> done_{0};   // tasks of the current job that have finished
  std::uint64_t generation_ = 0;        // caller side only
  std::atomic<bool> stopping_{false};
};

}  // namespace klab::cpu
