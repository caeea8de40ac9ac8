// The bounded pool that scores reward items off gRPC's callback threads. A call reserves slots
// for all its items at once (all or nothing), so a Score batch is either taken whole or refused
// at once with RESOURCE_EXHAUSTED, never half queued; a reserved item's task is always accepted.
//
//   ItemWorkers workers(/*threads=*/8, /*max_pending=*/4096);
//   if (!workers.TryReserve(n)) return RESOURCE_EXHAUSTED;
//   for (...) workers.Run([=] { ScoreOne(...); });  // exactly n calls, each frees one slot
#pragma once

#include <cstddef>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lib/rpc/handler_pool.h"

namespace r1serve::services {

class ItemWorkers {
 public:
  // threads <= 0: one per hardware thread. max_pending: items queued or running at most.
  ItemWorkers(int threads, size_t max_pending);

  // Reserves n slots; false (nothing reserved) when fewer are free.
  bool TryReserve(size_t n);
  // Runs a task in a reserved slot; the slot is freed when the task returns.
  void Run(std::function<void()> task);

  size_t max_pending() const { return max_pending_; }

 private:
  void Release();

  const size_t max_pending_;
  absl::Mutex mu_;
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  // Last, so that it joins (running what is queued) before the counters go away. Its queue
  // bound equals max_pending_, so a reserved task always fits.
  rpc::HandlerPool pool_;
};

}  // namespace r1serve::services
