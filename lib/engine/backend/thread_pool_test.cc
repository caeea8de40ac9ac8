#include "lib/engine/backend/thread_pool.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace r1serve::engine {
namespace {

TEST(ThreadPoolTest, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t size : {0, 1, 2, 7, 64, 1001}) {
      for (int64_t grain : {1, 4, 16}) {
        std::vector<std::atomic<int>> hits(size);
        std::atomic<int> calls{0};
        pool.ParallelFor(10, 10 + size, grain, [&](int64_t lo, int64_t hi) {
          ++calls;
          EXPECT_LT(lo, hi);
          // Every range but the last is a multiple of the grain.
          if (hi != 10 + size) {
            EXPECT_EQ((hi - lo) % grain, 0);
          }
          for (int64_t i = lo; i < hi; ++i) ++hits[i - 10];
        });
        for (auto& h : hits) ASSERT_EQ(h.load(), 1);
        EXPECT_LE(calls.load(), threads);
      }
    }
  }
}

TEST(ThreadPoolTest, ParallelForDynamicCoversEveryIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(997);
  pool.ParallelForDynamic(0, 997, 5, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) ++hits[i];
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPoolTest, RunOnAllUsesEveryThreadAndManyJobsInARow) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 20000; ++job) {
    pool.RunOnAll([&](int thread_index) { total += thread_index + 1; });
  }
  EXPECT_EQ(total.load(), 20000 * 3);
}

TEST(ThreadPoolTest, WakesWorkersThatWentToSleep) {
  ThreadPool pool(2);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin window
    std::atomic<int> ran{0};
    pool.RunOnAll([&](int) { ++ran; });
    EXPECT_EQ(ran.load(), 2);
  }
}

TEST(ThreadPoolTest, CallersOnSeveralThreadsTakeTurns) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int job = 0; job < 2000; ++job) {
        pool.ParallelFor(0, 10, 1, [&](int64_t lo, int64_t hi) { total += hi - lo; });
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(total.load(), 3 * 2000 * 10);
}

}  // namespace
}  // namespace r1serve::engine
