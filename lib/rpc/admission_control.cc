#include "lib/rpc/admission_control.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "lib/rpc/logging.h"

namespace r1serve::rpc {
namespace {

// Compares without an early exit, so response time does not reveal how much of a guessed
// token was right.
bool TokensEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

AdmissionControl::AdmissionControl(std::string auth_token, int max_concurrent_calls)
    : auth_token_(std::move(auth_token)), max_concurrent_calls_(max_concurrent_calls) {}

grpc::Status AdmissionControl::CheckToken(const grpc::ServerContextBase& context) const {
  if (auth_token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing bearer token: send metadata 'authorization: Bearer <token>'");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kScheme = "bearer ";  // RFC 6750: the scheme is case-insensitive
  if (!absl::StartsWithIgnoreCase(value, kScheme)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization metadata must read 'Bearer <token>'");
  }
  if (!TokensEqual(absl::StripAsciiWhitespace(value.substr(kScheme.size())), auth_token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  }
  return grpc::Status::OK;
}

grpc::Status AdmissionControl::Admit(const grpc::ServerContextBase* context) {
  absl::MutexLock lock(&mu_);
  auto call = calls_.find(context);
  if (call == calls_.end()) {
    // Only a server built without our interceptor gets here: a wiring bug, not a client error.
    Log(LogLevel::kError, "rpc", "Admit() called for a call that ServiceHost does not track");
    return grpc::Status(grpc::StatusCode::INTERNAL, "server misconfigured: call not tracked");
  }
  if (call->second.admitted) return grpc::Status::OK;
  if (draining_) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "server is shutting down; retry on another instance");
  }
  if (grpc::Status token = CheckToken(*context); !token.ok()) return token;
  if (max_concurrent_calls_ > 0 && slots_taken_ >= max_concurrent_calls_) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("server busy: ", slots_taken_, " calls in flight (limit ",
                                     max_concurrent_calls_, "); retry later"));
  }
  call->second.admitted = true;
  call->second.holds_slot = true;
  ++slots_taken_;
  ++admitted_alive_;
  return grpc::Status::OK;
}

void AdmissionControl::StartDraining() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

bool AdmissionControl::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

int AdmissionControl::calls_admitted() const {
  absl::MutexLock lock(&mu_);
  return admitted_alive_;
}

bool AdmissionControl::WaitForAdmittedCallsToEnd(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return admitted_alive_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&none), deadline);
}

void AdmissionControl::ReleaseSlot(Call& call) {
  if (!call.holds_slot) return;
  call.holds_slot = false;
  --slots_taken_;
}

void AdmissionControl::Forget(Call& call) {
  ReleaseSlot(call);
  if (call.admitted) --admitted_alive_;
}

uint64_t AdmissionControl::CallStarted(const grpc::ServerContextBase* context) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_call_id_++;
  auto [call, inserted] = calls_.try_emplace(context, Call{id});
  if (!inserted) {
    // gRPC reuses the context object of a call whose end we have not seen yet: that call is
    // over, so forget it now.
    Forget(call->second);
    call->second = Call{id};
  }
  return id;
}

void AdmissionControl::CallFinishing(const grpc::ServerContextBase* context, uint64_t call_id) {
  absl::MutexLock lock(&mu_);
  auto call = calls_.find(context);
  if (call != calls_.end() && call->second.id == call_id) ReleaseSlot(call->second);
}

void AdmissionControl::CallEnded(const grpc::ServerContextBase* context, uint64_t call_id) {
  absl::MutexLock lock(&mu_);
  auto call = calls_.find(context);
  if (call == calls_.end() || call->second.id != call_id) return;
  Forget(call->second);
  calls_.erase(call);
}

}  // namespace r1serve::rpc
