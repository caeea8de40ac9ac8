// One ScoreStream call. Items of each message go to the service's workers; results are written
// as they finish, batched into one message per write (at most one write is outstanding). Flow
// control: while the call has stream_max_in_flight items in flight the reactor stops reading,
// so gRPC's window pushes back on the client; it reads again as items finish. After the client
// half-closes, the reactor writes the remaining results and finishes with OK.
//
// A stream with nothing in flight that sends nothing for stream_idle_timeout is cancelled by the
// service's reaper. An id still in flight that arrives again gets an INVALID_ARGUMENT ItemError of
// its own; a message with too many items ends the call with INVALID_ARGUMENT. gRPC operations
// (reads, writes, Finish) are started outside the mutex, so a reaction that runs inline cannot
// deadlock. The reactor deletes itself once gRPC is done with it (OnDone) and no worker still
// holds it.
#pragma once

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "r1serve/v1/reward.grpc.pb.h"

namespace r1serve::services {

class RewardService;

class ScoreStreamReactor final
    : public grpc::ServerBidiReactor<v1::ScoreRequest, v1::ScoreResponse> {
 public:
  ScoreStreamReactor(RewardService* service, grpc::CallbackServerContext* context);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // For the service's idle reaper: when the call has had nothing in flight or to write, and no
  // message, for `timeout`, pins it (it cannot finish, so it is not deleted) and returns true;
  // CancelPinned then cancels it and unpins it.
  bool PinIfIdle(absl::Duration timeout);
  void CancelPinned();

 private:
  // gRPC operations to start once the mutex is released.
  struct Actions {
    bool read = false;
    bool write = false;
    std::optional<grpc::Status> finish;
  };

  // Called by a worker with the result of one item.
  void ItemDone(const std::string& id, v1::RewardResult result);
  // Decides, under the mutex, what the state allows next: write pending results, read again,
  // finish. A planned read or write counts in performing_ until Perform has started it, and
  // Finish waits for performing_ to reach 0, so no operation ever starts after Finish.
  Actions Plan() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The decided final status, once no write and no planned operation is outstanding.
  std::optional<grpc::Status> TakeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the call with `status` as soon as it may; results still to come are dropped.
  void Fail(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the planned operations (without the mutex), then settles them.
  void Perform(const Actions& actions) ABSL_LOCKS_EXCLUDED(mu_);

  RewardService* const service_;
  grpc::CallbackServerContext* const context_;
  v1::ScoreRequest request_;  // the read buffer; only touched between StartRead and OnReadDone

  absl::Mutex mu_;
  absl::flat_hash_set<std::string> in_flight_ ABSL_GUARDED_BY(mu_);
  int running_tasks_ ABSL_GUARDED_BY(mu_) = 0;  // worker tasks that still hold this reactor
  int performing_ ABSL_GUARDED_BY(mu_) = 0;     // planned operations and reaper pins not settled
  v1::ScoreResponse pending_ ABSL_GUARDED_BY(mu_);  // results not yet written
  v1::ScoreResponse writing_ ABSL_GUARDED_BY(mu_);  // the message of the outstanding write
  bool write_outstanding_ ABSL_GUARDED_BY(mu_) = false;
  bool read_outstanding_ ABSL_GUARDED_BY(mu_) = false;
  bool half_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);  // decided
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone ran
  bool tracked_ = false;                    // registered for idle reaping (set in the ctor)
  absl::Time last_activity_ ABSL_GUARDED_BY(mu_) = absl::Now();  // last message or result
};

}  // namespace r1serve::services
