// The downstream calls one client request makes (tokenizer, decode, detokenize), under one
// deadline and one cancellation: when the client cancels, or its deadline passes, Cancel()
// cancels every downstream call at once, so nothing downstream keeps working for a caller
// that left.
//
//   CallScope scope(request_id, deadline);
//   grpc::ClientContext* context = scope.NewContext();   // nullptr once cancelled
//   if (context == nullptr) return CancelledStatus();
//   auto reader = stub->Generate(context, request);
//   ...                                     // from another thread: scope.Cancel()
#pragma once

#include <grpcpp/client_context.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace r1serve::gateway {

class CallScope {
 public:
  CallScope(std::string request_id, absl::Time deadline)
      : request_id_(std::move(request_id)), deadline_(deadline) {}
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

  // A context for the next downstream call, with the request's deadline and its id as
  // "x-request-id" metadata; owned by the scope. nullptr once the scope is cancelled.
  grpc::ClientContext* NewContext() {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return nullptr;
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(deadline_));
    context->AddMetadata("x-request-id", request_id_);
    contexts_.push_back(std::move(context));
    return contexts_.back().get();
  }

  // Cancels every call started in this scope and any started later. Thread-safe, idempotent.
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    for (const std::unique_ptr<grpc::ClientContext>& context : contexts_) context->TryCancel();
  }

  bool cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  absl::Time deadline() const { return deadline_; }
  bool expired() const { return absl::Now() >= deadline_; }
  const std::string& request_id() const { return request_id_; }

 private:
  const std::string request_id_;
  const absl::Time deadline_;
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace r1serve::gateway
