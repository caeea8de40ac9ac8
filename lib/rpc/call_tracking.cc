#include "lib/rpc/call_tracking.h"

#include <atomic>
#include <chrono>
#include <string>

#include "absl/time/time.h"

namespace r1serve::rpc {
namespace {

using grpc::experimental::InterceptionHookPoints;

class CallTrackingInterceptor : public grpc::experimental::Interceptor {
 public:
  CallTrackingInterceptor(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics,
                          AdmissionControl* admission)
      : metrics_(metrics),
        admission_(admission),
        context_(info->server_context()),
        // Copied: the path's storage belongs to the call, which may go before we do.
        method_(info->method() != nullptr ? info->method() : ""),
        start_(std::chrono::steady_clock::now()) {
    metrics_->CallStarted(method_);
    call_id_ = admission_->CallStarted(context_);
  }

  ~CallTrackingInterceptor() override {
    Finish(grpc::StatusCode::CANCELLED);  // no-op when the status went out
    admission_->CallEnded(context_, call_id_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  // Runs once per call: from the status hook or, when no status is sent, the destructor.
  void Finish(grpc::StatusCode code) {
    if (finished_.exchange(true)) return;
    admission_->CallFinishing(context_, call_id_);
    metrics_->CallFinished(method_, code,
                           absl::FromChrono(std::chrono::steady_clock::now() - start_));
  }

  RpcMetrics* const metrics_;
  AdmissionControl* const admission_;
  const grpc::ServerContextBase* const context_;  // only a key: may be gone when we end
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;  // steady: wall-clock steps would skew it
  uint64_t call_id_ = 0;
  std::atomic<bool> finished_{false};
};

}  // namespace

grpc::experimental::Interceptor* CallTrackingInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallTrackingInterceptor(info, metrics_, admission_);
}

}  // namespace r1serve::rpc
