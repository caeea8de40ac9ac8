#include "gateway/gateway_service.h"

#include <memory>
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

// The pipeline's sink for a call answering with Response: converts and queues each message.
template <typename Response>
class ConvertingSink final : public ResponseSink {
 public:
  explicit ConvertingSink(rpc::StreamSender<Response> sender) : sender_(std::move(sender)) {}

  bool Send(v1::GatewayGenerateResponse response) override {
    Response message;
    Convert(std::move(response), &message);
    return sender_.Send(std::move(message));
  }

 private:
  const rpc::StreamSender<Response> sender_;
};

}  // namespace

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

template <typename Response, typename Request, typename Run>
grpc::ServerWriteReactor<Response>* GatewayService::StartGeneration(
    grpc::CallbackServerContext* context, const Request& request, const char* method, Run run) {
  auto* reactor = new rpc::QueuedWriteReactor<Response>(kMaxQueuedMessages);
  auto scope = std::make_shared<CallScope>(
      request.request_id().empty() ? NewRequestId() : request.request_id(), Deadline(context));
  // Client gone or deadline passed: every downstream call of the request is cancelled.
  reactor->SetOnCancel([scope] { scope->Cancel(); });
  const absl::Time received = absl::Now();
  // As Rollout's: the thread owns a copy of the request (a cancelled call finishes at once, and
  // gRPC frees its request while the pipeline winds down) and gives back its slot last.
  std::thread([this, scope, sender = reactor->sender(), request, method, received,
               run = std::move(run)] {
    ConvertingSink<Response> sink(sender);
    GenerationPipeline pipeline(deps_, scope.get(), received, &sink);
    const grpc::Status status = run(pipeline, request);
    deps_.metrics->ObserveRequestLatency(method, absl::ToDoubleSeconds(absl::Now() - received));
    sender.Finish(status);
    RequestDone();
  }).detach();
  return reactor;
}

grpc::ServerWriteReactor<v1::GatewayGenerateResponse>* GatewayService::Generate(
    grpc::CallbackServerContext* context, const v1::GatewayGenerateRequest* request) {
  if (grpc::Status s = Admit(context); !s.ok()) return Refuse<v1::GatewayGenerateResponse>(s);
  return StartGeneration<v1::GatewayGenerateResponse>(
      context, *request, "Generate",
      [](GenerationPipeline& pipeline, const v1::GatewayGenerateRequest& r) {
        return pipeline.RunGenerate(r);
      });
}

grpc::ServerWriteReactor<v1::ChatResponse>* GatewayService::Chat(
    grpc::CallbackServerContext* context, const v1::ChatRequest* request) {
  if (grpc::Status s = Admit(context); !s.ok()) return Refuse<v1::ChatResponse>(s);
  return StartGeneration<v1::ChatResponse>(
      context, *request, "Chat",
      [](GenerationPipeline& pipeline, const v1::ChatRequest& r) { return pipeline.RunChat(r); });
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
    const grpc::Status status = runner->Run(
        request, [&](v1::RolloutResponse group) { return sender.Send(std::move(group)); });
    deps_.metrics->ObserveRequestLatency("Rollout", absl::ToDoubleSeconds(absl::Now() - received));
    sender.Finish(status);
    RequestDone();
  }).detach();
  return reactor;
}

}  // namespace r1serve::gateway
