// QueuedWriteReactor<Response>: a server-streaming reactor that any thread may feed. gRPC's
// ServerWriteReactor allows one write in flight; services that produce messages on their own
// threads (the engine loop, a KV receiver) need a queue in front of it and a way to learn that
// the call is over without touching a reactor gRPC may already have deleted.
//
//   auto* reactor = new QueuedWriteReactor<GenerateResponse>();  // or (max_queued) to bound it
//   StreamSender<GenerateResponse> sender = reactor->sender();  // copyable, outlives the reactor
//   reactor->SetOnCancel([=] { loop->Cancel(id); });          // client gone or deadline passed
//   sender.Send(first);                                         // from any thread
//   sender.Finish(grpc::Status::OK);                            // after the queued messages
//   return reactor;                                              // from the service method
//
// Contract: Send() after Finish() or after the call ended is dropped (returns false). With a
// bound (max_queued > 0), Send() blocks while that many messages wait, until a write makes room
// or the call ends: a slow client slows its producer down instead of growing the queue (for a
// producer thread of its own; not for a shared loop). Finish() is
// idempotent; the first status wins; it is sent once every queued message has been written. When
// the client cancels (or a write fails) the queued messages are dropped, the OnCancel callback
// runs once (on a gRPC thread; it must not block), and the call finishes CANCELLED unless a
// status was already given. The OnDone callback runs once when gRPC is done with the call.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "grpcpp/grpcpp.h"
#include "grpcpp/support/server_callback.h"

namespace r1serve::rpc {

template <typename Response>
class QueuedWriteReactor;

// The feeding side of a QueuedWriteReactor; safe to keep and call after the call has ended.
template <typename Response>
class StreamSender {
 public:
  StreamSender() = default;

  // Queues `message`; false when the call has finished, is finishing or was cancelled.
  bool Send(Response message) const { return core_ != nullptr && core_->Send(std::move(message)); }
  // Finishes the call with `status` after the queued messages (first status wins).
  void Finish(const grpc::Status& status) const {
    if (core_ != nullptr) core_->Finish(status);
  }
  // True once the client cancelled, a write failed, or the call ended.
  bool Closed() const { return core_ == nullptr || core_->Closed(); }

 private:
  friend class QueuedWriteReactor<Response>;
  struct Core {
    std::mutex mu;
    std::condition_variable room;  // the queue shrank or the call ended (bounded Send waits)
    size_t max_queued = 0;         // 0: unbounded
    QueuedWriteReactor<Response>* reactor = nullptr;  // null once gRPC is done with the call
    std::deque<Response> queue;
    bool writing = false;  // a StartWrite is in flight
    bool closed = false;   // cancelled, a write failed, or done: nothing more will be written
    std::optional<grpc::Status> finish_status;
    bool finish_started = false;

    bool Send(Response message) {
      std::unique_lock lock(mu);
      if (max_queued > 0) {
        room.wait(lock, [&] {
          return reactor == nullptr || closed || finish_status.has_value() ||
                 queue.size() < max_queued;
        });
      }
      if (reactor == nullptr || closed || finish_status.has_value()) return false;
      queue.push_back(std::move(message));
      Pump(lock);
      return true;
    }
    void Finish(const grpc::Status& status) {
      std::unique_lock lock(mu);
      if (reactor == nullptr || finish_status.has_value()) return;
      finish_status = status;
      Pump(lock);
      if (lock.owns_lock()) lock.unlock();
      room.notify_all();  // a bounded Send waiting on another thread gives up
    }
    bool Closed() {
      std::lock_guard lock(mu);
      return closed || reactor == nullptr;
    }
    // Starts the next write, or the Finish once the queue is empty. gRPC runs the reactions of
    // a write on its own threads, never inside StartWrite, but the lock is released first anyway
    // so that a reaction could never deadlock on it; `writing` keeps writes one at a time and
    // keeps the reactor alive (OnDone cannot come before Finish, which waits for the write).
    void Pump(std::unique_lock<std::mutex>& lock) {
      if (writing || finish_started || reactor == nullptr) return;
      if (!closed && !queue.empty()) {
        writing = true;
        QueuedWriteReactor<Response>* r = reactor;
        r->current_ = std::move(queue.front());
        queue.pop_front();
        lock.unlock();
        room.notify_all();
        r->StartWrite(&r->current_);
        return;
      }
      if (finish_status.has_value()) {
        finish_started = true;
        QueuedWriteReactor<Response>* r = reactor;
        grpc::Status status = *finish_status;
        lock.unlock();
        r->Finish(status);
      }
    }
  };
  explicit StreamSender(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  std::shared_ptr<Core> core_;
};

template <typename Response>
class QueuedWriteReactor : public grpc::ServerWriteReactor<Response> {
 public:
  // max_queued > 0: Send() waits while that many messages are queued (see the contract).
  explicit QueuedWriteReactor(size_t max_queued = 0)
      : core_(std::make_shared<typename StreamSender<Response>::Core>()) {
    core_->reactor = this;
    core_->max_queued = max_queued;
  }

  StreamSender<Response> sender() const { return StreamSender<Response>(core_); }

  // Set before the reactor is returned to gRPC.
  void SetOnCancel(std::function<void()> on_cancel) { on_cancel_ = std::move(on_cancel); }
  void SetOnDone(std::function<void()> on_done) { on_done_ = std::move(on_done); }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(core_->mu);
    core_->writing = false;
    if (!ok) {
      // The stream is broken (client gone): nothing more can be written.
      bool first = !core_->closed;
      core_->closed = true;
      core_->queue.clear();
      if (!core_->finish_status.has_value()) {
        core_->finish_status = grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
      }
      core_->Pump(lock);
      if (lock.owns_lock()) lock.unlock();
      core_->room.notify_all();
      if (first) RunOnCancel();
      return;
    }
    core_->Pump(lock);
  }

  void OnCancel() override {
    {
      std::unique_lock lock(core_->mu);
      core_->closed = true;
      core_->queue.clear();
      if (!core_->finish_status.has_value()) {
        core_->finish_status = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
      }
      core_->Pump(lock);
    }
    core_->room.notify_all();
    RunOnCancel();
  }

  void OnDone() override {
    {
      std::lock_guard lock(core_->mu);
      core_->reactor = nullptr;
      core_->closed = true;
      core_->queue.clear();
    }
    core_->room.notify_all();
    if (on_done_) on_done_();
    delete this;
  }

 private:
  friend struct StreamSender<Response>::Core;

  void RunOnCancel() {
    std::function<void()> callback;
    {
      std::lock_guard lock(cancel_mu_);
      callback = std::exchange(on_cancel_, nullptr);
    }
    if (callback) callback();
  }

  const std::shared_ptr<typename StreamSender<Response>::Core> core_;
  Response current_;  // the message of the write in flight
  std::mutex cancel_mu_;
  std::function<void()> on_cancel_;
  std::function<void()> on_done_;
};

}  // namespace r1serve::rpc
