// A fixed set of worker threads with a bounded queue, where service handlers run CPU-heavy work
// (tokenizing megabytes, decoding long sequences) instead of on gRPC's few callback threads: a
// heavy request then never delays health checks or light calls, and overload is refused early.
//
//   HandlerPool pool(/*num_threads=*/4, /*max_queued=*/256);
//   grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
//   if (!pool.TrySubmit([=] { reactor->Finish(DoWork()); })) {
//     reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server busy"));
//   }
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace r1serve::rpc {

class HandlerPool {
 public:
  // num_threads <= 0 means one per hardware thread.
  HandlerPool(int num_threads, size_t max_queued);
  // Runs what is queued, then joins the workers.
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Queues `task`; false (and `task` dropped) when max_queued tasks are already waiting.
  bool TrySubmit(std::function<void()> task);

  size_t max_queued() const { return max_queued_; }

 private:
  void Work();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace r1serve::rpc
