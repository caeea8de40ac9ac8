#include "services/reward/score_stream_reactor.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/reward/reward_service.h"

namespace r1serve::services {

ScoreStreamReactor::ScoreStreamReactor(RewardService* service, grpc::CallbackServerContext* context)
    : service_(service), context_(context) {
  grpc::Status admitted = service_->host()->Admit(context);
  if (admitted.ok()) {
    service_->TrackStream(this);
    tracked_ = true;
  }
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    if (!admitted.ok()) Fail(admitted);
    actions = Plan();
  }
  Perform(actions);
}

void ScoreStreamReactor::OnReadDone(bool ok) {
  std::vector<v1::RewardItem> accepted;
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    read_outstanding_ = false;
    last_activity_ = absl::Now();
    const uint32_t max_items = service_->limits().max_items_per_request;
    if (finish_status_) {
      // the call is ending: nothing more is taken
    } else if (!ok) {
      half_closed_ = true;  // or the client went away: the next write fails then
    } else if (static_cast<uint32_t>(request_.items_size()) > max_items) {
      Fail(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat(request_.items_size(), " items in one message are over the limit of ",
                       max_items, "; send smaller messages")));
    } else {
      for (v1::RewardItem& item : *request_.mutable_items()) {
        if (in_flight_.insert(item.id()).second) {
          accepted.push_back(std::move(item));
        } else {
          *pending_.add_results() = service_->RefusedResult(
              item.id(), absl::InvalidArgumentError(absl::StrCat(
                             "item id '", item.id(), "' is already in flight on this stream")));
        }
      }
      if (!accepted.empty()) {
        if (service_->workers().TryReserve(accepted.size())) {
          running_tasks_ += static_cast<int>(accepted.size());
        } else {
          for (const v1::RewardItem& item : accepted) {
            in_flight_.erase(item.id());
            *pending_.add_results() = service_->RefusedResult(
                item.id(), absl::ResourceExhaustedError(
                               "reward service busy: too many items pending; send it again later"));
          }
          accepted.clear();
        }
      }
    }
    request_.Clear();
    actions = Plan();
  }
  const absl::Time deadline = CallDeadline(context_);
  for (v1::RewardItem& item : accepted) {
    // The worker asks this reactor, not context_, whether the call is ending: after OnDone gRPC
    // frees the context while this reactor lives on until its last item is done.
    service_->workers().Run([this, item = std::move(item), deadline] {
      bool ending;
      {
        absl::MutexLock lock(&mu_);
        ending = finish_status_.has_value();
      }
      ItemDone(item.id(), ending ? service_->RefusedResult(
                                       item.id(), absl::CancelledError("the call was cancelled"))
                                 : service_->ScoreOne(item, deadline));
    });
  }
  Perform(actions);
}

void ScoreStreamReactor::ItemDone(const std::string& id, v1::RewardResult result) {
  Actions actions;
  bool last_holder = false;
  {
    absl::MutexLock lock(&mu_);
    --running_tasks_;
    last_activity_ = absl::Now();
    if (!finish_status_) {
      in_flight_.erase(id);
      *pending_.add_results() = std::move(result);
    }
    actions = Plan();
    last_holder = done_ && running_tasks_ == 0 && performing_ == 0;
  }
  if (last_holder) {
    delete this;
    return;
  }
  Perform(actions);
}

void ScoreStreamReactor::OnWriteDone(bool ok) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    write_outstanding_ = false;
    writing_.Clear();
    if (!ok) Fail(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    actions = Plan();
  }
  Perform(actions);
}

void ScoreStreamReactor::OnCancel() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    Fail(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
    actions = Plan();
  }
  Perform(actions);
}

bool ScoreStreamReactor::PinIfIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (finish_status_ || !in_flight_.empty() || write_outstanding_ || pending_.results_size() > 0 ||
      absl::Now() - last_activity_ < timeout) {
    return false;
  }
  ++performing_;
  return true;
}

void ScoreStreamReactor::CancelPinned() {
  context_->TryCancel();  // OnCancel, perhaps inline, decides the final status
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    --performing_;
    finish = TakeFinish();
  }
  if (finish) Finish(*finish);
}

void ScoreStreamReactor::OnDone() {
  // First, so that the reaper, which looks at streams under the service's stream mutex, is done
  // with this one before it can be deleted.
  if (tracked_) service_->UntrackStream(this);
  bool last_holder = false;
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
    last_holder = running_tasks_ == 0 && performing_ == 0;
  }
  if (last_holder) delete this;
}

void ScoreStreamReactor::Fail(grpc::Status status) {
  if (finish_status_) return;
  finish_status_ = std::move(status);
  pending_.Clear();
}

std::optional<grpc::Status> ScoreStreamReactor::TakeFinish() {
  if (!finish_status_ || finish_called_ || write_outstanding_ || performing_ > 0) {
    return std::nullopt;
  }
  finish_called_ = true;
  return finish_status_;
}

ScoreStreamReactor::Actions ScoreStreamReactor::Plan() {
  Actions actions;
  if (!finish_status_) {
    if (!write_outstanding_ && pending_.results_size() > 0) {
      writing_.Swap(&pending_);
      write_outstanding_ = true;
      actions.write = true;
    }
    if (!half_closed_ && !read_outstanding_ &&
        in_flight_.size() < service_->limits().stream_max_in_flight) {
      read_outstanding_ = true;
      actions.read = true;
    }
    if (half_closed_ && in_flight_.empty() && pending_.results_size() == 0 && !write_outstanding_) {
      finish_status_ = grpc::Status::OK;
    }
  }
  if (actions.read || actions.write) ++performing_;
  actions.finish = TakeFinish();
  return actions;
}

void ScoreStreamReactor::Perform(const Actions& actions) {
  if (actions.finish) {
    Finish(*actions.finish);  // may run OnDone, and delete this, before it returns
    return;
  }
  if (!actions.read && !actions.write) return;
  if (actions.read) StartRead(&request_);
  if (actions.write) StartWrite(&writing_);
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    --performing_;
    finish = TakeFinish();
  }
  if (finish) Finish(*finish);
}

}  // namespace r1serve::services
