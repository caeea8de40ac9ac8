#include "lib/engine/runtime/engine_loop.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace r1serve::engine {

EngineLoop::EngineLoop(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {
  load_ = engine_->Load();  // before the thread exists
  thread_ = std::thread([this] { Run(); });
}

EngineLoop::~EngineLoop() { Shutdown(); }

void EngineLoop::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<RequestId> EngineLoop::Submit(std::vector<int32_t> prompt, SamplingParams params,
                                             RequestOptions options, Sink sink) {
  RETURN_IF_ERROR(engine_->ValidateRequest(prompt, params));
  return Queue(
      Add{0, std::move(prompt), std::move(params), options, std::nullopt, std::move(sink)});
}

absl::StatusOr<RequestId> EngineLoop::SubmitImport(SamplingParams params, KvSnapshot snapshot,
                                                   Sink sink) {
  RETURN_IF_ERROR(CheckKvSnapshot(engine_->kv_header(), snapshot));
  RETURN_IF_ERROR(engine_->ValidateRequest(snapshot.token_ids, params));
  return Queue(Add{0, {}, std::move(params), {}, std::move(snapshot), std::move(sink)});
}

absl::StatusOr<RequestId> EngineLoop::Queue(Add add) {
  std::unique_lock lock(mu_);
  if (!broken_.ok())
    return absl::InternalError(absl::StrCat("the engine failed: ", broken_.message()));
  if (stopping_) return absl::UnavailableError("the engine is shutting down");
  add.id = engine_->ReserveRequestId();
  add.options.id = add.id;
  const RequestId id = add.id;
  adds_.push_back(std::move(add));
  lock.unlock();
  wake_.notify_one();
  return id;
}

void EngineLoop::Cancel(RequestId id) {
  {
    std::lock_guard lock(mu_);
    cancels_.push_back(id);
  }
  wake_.notify_one();
}

EngineLoad EngineLoop::Load() const {
  std::lock_guard lock(mu_);
  return load_;
}

std::vector<uint64_t> EngineLoop::CachedBlockHashes(size_t max_hashes) const {
  std::lock_guard lock(mu_);
  const size_t n = std::min(max_hashes, block_hashes_.size());
  return std::vector<uint64_t>(block_hashes_.begin(), block_hashes_.begin() + n);
}

bool EngineLoop::Wakeable() const {
  return stopping_ || has_work_ || !adds_.empty() || !cancels_.empty();
}

void EngineLoop::Run() {
  for (;;) {
    std::vector<Add> adds;
    std::vector<RequestId> cancels;
    bool stopping;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return Wakeable(); });
      adds.swap(adds_);
      cancels.swap(cancels_);
      stopping = stopping_;
    }
    for (Add& add : adds) {
      absl::StatusOr<RequestId> added =
          add.import.has_value()
              ? engine_->ImportRequest(add.params, *std::move(add.import), add.options)
              : engine_->AddRequest(std::move(add.prompt), add.params, add.options);
      if (added.ok()) {
        sinks_[add.id] = std::move(add.sink);
      } else {
        TokenEvent event;
        event.request = add.id;
        event.finish = FinishReason::kError;
        event.error = added.status();
        event.request_done = true;
        add.sink(std::move(event));
      }
    }
    for (RequestId id : cancels) {
      // Not found: finished already (its final event is out) or never accepted.
      if (sinks_.contains(id)) engine_->Cancel(id).IgnoreError();
    }
    if (stopping) {
      std::vector<RequestId> live;
      for (const auto& [id, sink] : sinks_) live.push_back(id);
      for (RequestId id : live) engine_->Cancel(id).IgnoreError();
    }
    // A broken engine is not stepped again: its requests have been failed.
    if (!engine_failed_ && engine_->HasWork()) {
      absl::StatusOr<std::vector<TokenEvent>> events = engine_->Step();
      if (events.ok()) {
        Dispatch(*std::move(events));
      } else {
        engine_failed_ = true;
        FailAll(events.status());
        std::lock_guard lock(mu_);
        broken_ = events.status();
      }
    }
    // The prefix cache's routing hashes cost a scan of the cache: refreshed at most every
    // kBlockHashesRefresh while busy, and always once the loop goes idle.
    const bool going_idle = engine_failed_ || !engine_->HasWork();
    const auto now = std::chrono::steady_clock::now();
    std::optional<std::vector<uint64_t>> hashes;
    if (going_idle || now - hashes_refreshed_ >= kBlockHashesRefresh) {
      hashes = engine_->CachedBlockHashes(kMaxPublishedBlockHashes);
      hashes_refreshed_ = now;
    }
    const EngineLoad load = engine_->Load();
    bool done;
    {
      std::lock_guard lock(mu_);
      load_ = load;
      if (hashes.has_value()) block_hashes_ = *std::move(hashes);
      has_work_ = !engine_failed_ && engine_->HasWork();
      done = stopping && !has_work_ && adds_.empty() && cancels_.empty();
    }
    {
      std::lock_guard lock(observer_mu_);
      if (observer_) observer_(load);
    }
    if (done) return;
  }
}

void EngineLoop::SetLoadObserver(std::function<void(const EngineLoad&)> observer) {
  std::lock_guard lock(observer_mu_);
  observer_ = std::move(observer);
  if (observer_) observer_(Load());
}

void EngineLoop::Dispatch(std::vector<TokenEvent> events) {
  for (TokenEvent& event : events) {
    auto it = sinks_.find(event.request);
    if (it == sinks_.end()) continue;
    const bool done = event.request_done;
    it->second(std::move(event));
    if (done) sinks_.erase(it);
  }
}

void EngineLoop::FailAll(const absl::Status& error) {
  for (auto& [id, sink] : sinks_) {
    TokenEvent event;
    event.request = id;
    event.finish = FinishReason::kError;
    event.error = error;
    event.request_done = true;
    sink(std::move(event));
  }
  sinks_.clear();
}

}  // namespace r1serve::engine
