// A fork-join thread pool for the CPU backend's kernels: persistent workers that run one
// function on every thread and return when all are done. Ops are short (tens of microseconds
// for a decode step's small matmuls), so a dispatch must cost well under a microsecond: workers
// spin on a generation counter for a while after each job and only then sleep on a futex
// (std::atomic::wait), and the caller runs a share of the work itself instead of waiting.
//
//   ThreadPool pool(/*num_threads=*/2);           // the caller + 1 worker
//   pool.ParallelFor(0, rows, /*grain=*/8, [&](int64_t lo, int64_t hi) {
//     for (int64_t r = lo; r < hi; ++r) Work(r);  // static split: thread i gets one range
//   });
//   pool.ParallelForDynamic(0, items, /*chunk=*/1, [&](int64_t lo, int64_t hi) { ... });
//
// Jobs are not reentrant: a job must not call back into the same pool (asserted: it would
// deadlock). Callers on different threads are served one after the other.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace r1serve::engine {

class ThreadPool {
 public:
  // num_threads counts the calling thread: num_threads - 1 workers are started. <= 0 means
  // std::thread::hardware_concurrency().
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Runs fn(thread_index) once on every thread, index 0 being the caller; returns when all
  // calls have returned (the barrier at the end of every op).
  template <typename Fn>
  void RunOnAll(Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    Dispatch([](void* context, int thread_index) { (*static_cast<F*>(context))(thread_index); },
             const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Static split of [begin, end) into one contiguous range per thread, each a multiple of
  // `grain` long (but the last); fn(lo, hi) is called at most once per thread, never with an
  // empty range. For work of even cost per item (matmul rows): each thread keeps its range's
  // weights in its own cache.
  template <typename Fn>
  void ParallelFor(int64_t begin, int64_t end, int64_t grain, Fn&& fn) {
    if (end <= begin) return;
    const int64_t grains = (end - begin + grain - 1) / grain;
    const int threads = static_cast<int>(std::min<int64_t>(num_threads_, grains));
    if (threads <= 1) {
      fn(begin, end);
      return;
    }
    RunOnAll([&](int thread_index) {
      if (thread_index >= threads) return;
      const int64_t lo = begin + grains * thread_index / threads * grain;
      const int64_t hi = std::min(end, begin + grains * (thread_index + 1) / threads * grain);
      if (lo < hi) fn(lo, hi);
    });
  }

  // Dynamic split: threads take `chunk`-sized ranges from a shared counter until none are
  // left. For work of uneven cost (attention rows of sequences of different lengths).
  template <typename Fn>
  void ParallelForDynamic(int64_t begin, int64_t end, int64_t chunk, Fn&& fn) {
    if (end <= begin) return;
    if (num_threads_ == 1 || end - begin <= chunk) {
      fn(begin, end);
      return;
    }
    std::atomic<int64_t> next{begin};
    RunOnAll([&](int) {
      for (;;) {
        const int64_t lo = next.fetch_add(chunk, std::memory_order_relaxed);
        if (lo >= end) return;
        fn(lo, std::min(end, lo + chunk));
      }
    });
  }

 private:
  using JobFn = void (*)(void* context, int thread_index);

  void Dispatch(JobFn fn, void* context);
  void WorkerLoop(int thread_index);

  const int num_threads_;
  std::vector<std::thread> workers_;

  // The current job; written by the caller before it bumps generation_ (release), read by
  // workers after they see the new generation (acquire).
  JobFn job_fn_ = nullptr;
  void* job_context_ = nullptr;
  std::mutex dispatch_mutex_;  // one job at a time

  alignas(64) std::atomic<uint64_t> generation_{0};  // bumped once per job
  alignas(64) std::atomic<int> pending_{0};          // workers still running the current job
  alignas(64) std::atomic<int> sleepers_{0};         // workers blocked in generation_.wait
  std::atomic<bool> stop_{false};
};

}  // namespace r1serve::engine
