#include "gateway/gateway_service.h"

#include <deque>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gateway/rollout.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/queued_write_reactor.h"

namespace r1serve::gateway {
namespace {

// Messages a slow client may leave queued before the request thread waits for it.
constexpr size_t kMaxQueuedMessages = 64;

// GatewayGenerateResponse and ChatResponse have the same fields.
void Convert(v1::GatewayGenerateResponse in, v1::GatewayGenerateResponse* out) {
  *out = std::move(in);
}
void Convert(v1::GatewayGenerateResponse in, v1::ChatResponse* out) {
  out->set_request_id(std::move(*in.mutable_request_id()));
  out->mutable_samples()->Swap(in.mutable_samples());
  if (in.has_usage()) out->mutable_usage()->Swap(in.mutable_usage());
  if (in.has_timing()) out->mutable_timing()->Swap(in.mutable_timing());
}

}  // namespace

// One Generate or Chat call: a write queue the request thread fills and gRPC drains.
// Lifetime: gRPC deletes nothing; OnDone deletes this, and OnDone comes only after Finish,
// which the request thread calls as its very last act (Complete), so the thread never touches
// a deleted reactor.
template <typename Response>
class GenerationReactor final : public grpc::ServerWriteReactor<Response>, public ResponseSink {
 public:
  GenerationReactor(GatewayService* service, std::string request_id, absl::Time deadline)
      : service_(service), scope_(std::move(request_id), deadline), received_(absl::Now()) {}

  CallScope& scope() { return scope_; }
  absl::Time received() const { return received_; }

  // StartWrite and Finish are called with mu_ released: gRPC may run a reaction (OnWriteDone)
  // on the calling thread before they return. queue_ is a deque, so the front element stays put
  // while later messages are appended.
  bool Send(v1::GatewayGenerateResponse response) override {
    Response message;
    Convert(std::move(response), &message);
    const Response* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GenerationReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
            return r->broken_ || r->queue_.size() < kMaxQueuedMessages;
          },
          this));
      if (broken_) return false;
      queue_.push_back(std::move(message));
      if (!writing_) {
        writing_ = true;
        start = &queue_.front();
      }
    }
    if (start != nullptr) this->StartWrite(start);
    return true;
  }

  // Ends the call with `status` once the queue is written; the caller must not touch the
  // reactor afterwards.
  void Complete(grpc::Status status) {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      final_status_ = std::move(status);
      finishing_ = true;
      finish_now = !writing_;
      if (finish_now) finished_ = true;
    }
    if (finish_now) this->Finish(final_status_);
  }

  void OnWriteDone(bool ok) override {
    const Response* next = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      queue_.pop_front();
      if (!ok) {  // the client went away
        broken_ = true;
        queue_.clear();
      }
      if (!queue_.empty()) {
        next = &queue_.front();
      } else {
        writing_ = false;
        if (finishing_ && !finished_) finish = finished_ = true;
      }
    }
    if (next != nullptr) {
      this->StartWrite(next);
    } else if (finish) {
      this->Finish(final_status_);
    }
  }

  void OnCancel() override {
    scope_.Cancel();
    absl::MutexLock lock(&mu_);
    broken_ = true;
  }

  void OnDone() override {
    service_->RequestDone();
    delete this;
  }

 private:
  GatewayService* const service_;
  CallScope scope_;
  const absl::Time received_;
  absl::Mutex mu_;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mu_);  // front: being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_;
};

GatewayService::GatewayService(rpc::ServiceHost* host, PipelineDeps deps, GatewayOptions options)
    : host_(host), deps_(deps), options_(options) {}

GatewayService::~GatewayService() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &in_flight_));
}

grpc::Status GatewayService::Admit(grpc::CallbackServerContext* context) {
  if (grpc::Status admitted = host_->Admit(context); !admitted.ok()) return admitted;
  absl::MutexLock lock(&mu_);
  if (in_flight_ >= options_.max_in_flight_requests) {
    deps_.metrics->Rejected("overload");
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("the gateway is at its limit of ", options_.max_in_flight_requests,
                     " requests in flight (--max_in_flight_requests); retry later"));
  }
  ++in_flight_;
  deps_.metrics->requests_running().Increment();
  return grpc::Status::OK;
}

void GatewayService::RequestDone() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
  deps_.metrics->requests_running().Decrement();
}

std::string GatewayService::NewRequestId() {
  static const uint32_t process_tag = std::random_device{}();
  return absl::StrFormat("gw-%08x-%d", process_tag, next_id_.fetch_add(1) + 1);
}

absl::Time GatewayService::Deadline(const grpc::CallbackServerContext* context) const {
  const absl::Time cap = absl::Now() + options_.request_timeout;
  if (context->deadline() == std::chrono::system_clock::time_point::max()) return cap;
  return std::min(absl::FromChrono(context->deadline()), cap);
}

namespace {

// Starts the request thread of an admitted call; `run` executes the pipeline.
template <typename Response, typename Run>
grpc::ServerWriteReactor<Response>* Start(GenerationReactor<Response>* reactor, Run run) {
  std::thread([reactor, run = std::move(run)]() mutable {
    grpc::Status status = run(reactor);
    reactor->Complete(std::move(status));
  }).detach();
  return reactor;
}

template <typename Response>
grpc::ServerWriteReactor<Response>* Refuse(grpc::Status status) {
  class Refusal final : public grpc::ServerWriteReactor<Response> {
   public:
    explicit Refusal(grpc::Status status) { this->Finish(std::move(status)); }
    void OnDone() override { delete this; }
  };
  return new Refusal(std::move(status));
}

}  // namespace

grpc::ServerWriteReactor<v1::GatewayGenerateResponse>* GatewayService::Generate(
    grpc::CallbackServerContext* context, const v1::GatewayGenerateRequest* request) {
  if (grpc::Status s = Admit(context); !s.ok()) return Refuse<v1::GatewayGenerateResponse>(s);
  auto* reactor = new GenerationReactor<v1::GatewayGenerateResponse>(
      this, request->request_id().empty() ? NewRequestId() : request->request_id(),
      Deadline(context));
  PipelineDeps deps = deps_;
  return Start(reactor, [this, deps, request](auto* r) {
    GenerationPipeline pipeline(deps, &r->scope(), r->received(), r);
    grpc::Status status = pipeline.RunGenerate(*request);
    deps.metrics->ObserveRequestLatency("Generate",
                                        absl::ToDoubleSeconds(absl::Now() - r->received()));
    return status;
  });
}

grpc::ServerWriteReactor<v1::ChatResponse>* GatewayService::Chat(
    grpc::CallbackServerContext* context, const v1::ChatRequest* request) {
  if (grpc::Status s = Admit(context); !s.ok()) return Refuse<v1::ChatResponse>(s);
  auto* reactor = new GenerationReactor<v1::ChatResponse>(
      this, request->request_id().empty() ? NewRequestId() : request->request_id(),
      Deadline(context));
  PipelineDeps deps = deps_;
  return Start(reactor, [this, deps, request](auto* r) {
    GenerationPipeline pipeline(deps, &r->scope(), r->received(), r);
    grpc::Status status = pipeline.RunChat(*request);
    deps.metrics->ObserveRequestLatency("Chat", absl::ToDoubleSeconds(absl::Now() - r->received()));
    return status;
  });
}

grpc::ServerWriteReactor<v1::RolloutResponse>* GatewayService::Rollout(
    grpc::CallbackServerContext* context, const v1::RolloutRequest* request) {
  if (grpc::Status s = Admit(context); !s.ok()) return Refuse<v1::RolloutResponse>(s);
  auto* reactor = new rpc::QueuedWriteReactor<v1::RolloutResponse>();
  const rpc::StreamSender<v1::RolloutResponse> sender = reactor->sender();
  auto runner = std::make_shared<RolloutRunner>(
      deps_, deps_.reward, request->request_id().empty() ? NewRequestId() : request->request_id(),
      Deadline(context));
  reactor->SetOnCancel([runner] { runner->Cancel(); });
  const absl::Time received = absl::Now();
  // The thread owns a copy of the request: a cancelled call finishes at once, and gRPC frees
  // its request while the groups are still winding down. It gives back its in-flight slot
  // itself, last, so the service's destructor waits for it.
  std::thread([this, runner, sender, request = *request, received] {
    const grpc::Status status =
        runner->Run(request, [&](v1::RolloutResponse group) { return sender.Send(std::move(group)); });
    deps_.metrics->ObserveRequestLatency("Rollout", absl::ToDoubleSeconds(absl::Now() - received));
    sender.Finish(status);
    RequestDone();
  }).detach();
  return reactor;
}

}  // namespace r1serve::gateway
