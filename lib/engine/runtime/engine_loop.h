// EngineLoop: runs an Engine on a thread of its own and lets any thread submit and cancel
// requests; each request's events go to that request's sink. This is how the services drive
// the engine: a gRPC handler submits with a sink that writes to its stream, and cancels when
// the client goes away.
//
//   EngineLoop loop(std::move(engine));
//   ASSIGN_OR_RETURN(RequestId id, loop.Submit(prompt_ids, params, {}, [=](TokenEvent e) {
//     reactor->Enqueue(std::move(e));  // called on the loop thread: must not block
//   }));
//   ...
//   loop.Cancel(id);  // from any thread, e.g. the reactor's OnCancel
//
// Contract:
// - Submit validates at once (Engine::ValidateRequest: INVALID_ARGUMENT with a message for the
//   user) and returns the request id; the request joins the batch at the next step.
// - A sink is called on the loop thread, in event order, never concurrently with itself, and
//   for every accepted request exactly once with `request_done` set (finished, cancelled,
//   failed or shut down), after which it is destroyed and never called again. A sink must be
//   quick and must not call back into the loop synchronously waiting for anything.
// - Cancel is asynchronous and idempotent: the request's remaining samples end with kCancelled
//   events (unless they finished first). Unknown ids are ignored.
// - The loop thread sleeps when there is no work; it steps back to back while there is.
// - Shutdown (also the destructor) cancels every request, delivers the final events and joins.
//   Submit afterwards is UNAVAILABLE. If a step fails (the engine is broken: an internal
//   invariant failed), every request ends with a kError event and Submit answers INTERNAL.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/engine/runtime/engine.h"

namespace r1serve::engine {

class EngineLoop {
 public:
  using Sink = std::function<void(TokenEvent)>;

  // Starts the loop thread.
  explicit EngineLoop(std::unique_ptr<Engine> engine);
  ~EngineLoop();
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  absl::StatusOr<RequestId> Submit(std::vector<int32_t> prompt, SamplingParams params,
                                   RequestOptions options, Sink sink);
  // A request continuing from another engine's KV (Engine::ImportRequest).
  absl::StatusOr<RequestId> SubmitImport(SamplingParams params, KvSnapshot snapshot, Sink sink);
  void Cancel(RequestId id);

  // As of the end of the last step.
  EngineLoad Load() const;
  // Calls `observer` with the load at the end of every loop iteration (after each step, and
  // after each batch of submits and cancels), on the loop thread, and once at once on the
  // calling thread: for a caller that must track the engine's free KV blocks without polling.
  // nullptr removes it; the call returns after any observer call in progress. The observer must
  // be quick and must not call SetLoadObserver.
  void SetLoadObserver(std::function<void(const EngineLoad&)> observer);
  // The prefix cache's routing hashes (PrefixCacheSummary.block_hashes), most recently used
  // first, at most min(max_hashes, kMaxPublishedBlockHashes); refreshed every
  // kBlockHashesRefresh while the loop is busy and whenever it goes idle.
  std::vector<uint64_t> CachedBlockHashes(size_t max_hashes) const;
  static constexpr size_t kMaxPublishedBlockHashes = 1024;
  static constexpr std::chrono::milliseconds kBlockHashesRefresh{250};
  // The engine's thread-safe side (config, tokenizer, kv_header, ValidateRequest).
  const Engine& engine() const { return *engine_; }

  void Shutdown();

 private:
  struct Add {
    RequestId id;
    std::vector<int32_t> prompt;
    SamplingParams params;
    RequestOptions options;
    std::optional<KvSnapshot> import;
    Sink sink;
  };

  absl::StatusOr<RequestId> Queue(Add add);
  void Run();
  bool Wakeable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Dispatch(std::vector<TokenEvent> events);
  // Ends every live request with a kError event carrying `error`.
  void FailAll(const absl::Status& error);

  const std::unique_ptr<Engine> engine_;

  // std::mutex rather than absl::Mutex: ThreadSanitizer sees through libstdc++'s locks, not
  // through a prebuilt Abseil's, and this is the class whose races matter.
  mutable std::mutex mu_;
  std::condition_variable wake_;  // commands, stopping
  // Commands for the loop thread. Adds are applied before cancels: a cancel can only name an id
  // that Submit returned, so its add is queued in the same batch or an earlier one.
  std::vector<Add> adds_ ABSL_GUARDED_BY(mu_);
  std::vector<RequestId> cancels_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool has_work_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  EngineLoad load_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> block_hashes_ ABSL_GUARDED_BY(mu_);

  // Held while the observer runs, so that removing it waits for a call in progress.
  std::mutex observer_mu_;
  std::function<void(const EngineLoad&)> observer_ ABSL_GUARDED_BY(observer_mu_);

  // Loop thread only.
  absl::flat_hash_map<RequestId, Sink> sinks_;
  bool engine_failed_ = false;
  std::chrono::steady_clock::time_point hashes_refreshed_;

  std::thread thread_;
};

}  // namespace r1serve::engine
