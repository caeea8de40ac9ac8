#include "lib/engine/backend/thread_pool.h"

#include <cassert>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace r1serve::engine {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// How long an idle worker spins before it sleeps. Ops of one forward pass follow each other
// within microseconds, so a worker that spins across the gap is ready at once; a futex wake
// costs tens of microseconds. Between steps (sampling, scheduling) the worker gives its core
// back after this long.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(200);

// The pool whose job this thread is running (its workers, always; a caller, during its share):
// a Dispatch from inside a job would wait for itself.
thread_local const ThreadPool* current_pool = nullptr;

}  // namespace

ThreadPool::ThreadPool(int num_threads)
    : num_threads_(num_threads > 0
                       ? num_threads
                       : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))) {
  workers_.reserve(num_threads_ - 1);
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::Dispatch(JobFn fn, void* context) {
  assert(current_pool != this && "ThreadPool jobs must not call back into their pool");
  if (num_threads_ == 1) {
    fn(context, 0);
    return;
  }
  std::lock_guard<std::mutex> lock(dispatch_mutex_);
  job_fn_ = fn;
  job_context_ = context;
  pending_.store(num_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);  // seq_cst: pairs with sleepers_
  if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();

  const ThreadPool* outer = current_pool;
  current_pool = this;
  fn(context, 0);
  current_pool = outer;

  // The caller's share is done; wait for the workers' (usually already done or nearly so).
  int spins = 0;
  while (pending_.load(std::memory_order_acquire) != 0) {
    CpuRelax();
    if (++spins > 4096) std::this_thread::yield();
  }
}

void ThreadPool::WorkerLoop(int thread_index) {
  current_pool = this;
  uint64_t seen = 0;
  for (;;) {
    uint64_t generation = generation_.load(std::memory_order_acquire);
    if (generation == seen) {
      const auto deadline = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      int spins = 0;
      while ((generation = generation_.load(std::memory_order_acquire)) == seen) {
        CpuRelax();
        if ((++spins & 63) == 0 && std::chrono::steady_clock::now() > deadline) {
          // Announce the sleep before re-checking, so that a Dispatch that bumps the
          // generation after our check sees sleepers_ > 0 and notifies (both seq_cst).
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          generation_.wait(seen, std::memory_order_seq_cst);
          sleepers_.fetch_sub(1, std::memory_order_relaxed);
          spins = 0;
        }
      }
    }
    seen = generation;
    if (stop_.load(std::memory_order_relaxed)) return;
    job_fn_(job_context_, thread_index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace r1serve::engine
