// Decides whether a service handler may serve a call: bearer token, concurrent-call limit and
// drain state. gRPC C++ server interceptors cannot reject a call, so each handler asks first:
//
//   grpc::Status Generate(grpc::ServerContext* context, ...) override {   // sync API
//     if (grpc::Status s = host_->Admit(context); !s.ok()) return s;
//     ...
//   }
//
//   grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* context, ...) override {
//     grpc::ServerUnaryReactor* reactor = context->DefaultReactor();       // callback API
//     if (grpc::Status s = host_->Admit(context); !s.ok()) {
//       reactor->Finish(s);
//       return reactor;
//     }
//     ...  // may Finish later, from any thread: the slot is held until then
//   }
//
// The slot an admitted call takes is given back by the ServiceHost's call interceptor when the
// call sends its status (or ends without one), so no handler has to release anything and a
// callback handler may finish the call long after it returned. Calls that never ask (health,
// reflection) stay open to Kubernetes probes and grpcurl without a token.
//
// Order of checks: draining -> UNAVAILABLE (the client should go to another instance), then the
// token -> UNAUTHENTICATED (an unauthenticated caller learns nothing about load), then the
// limit -> RESOURCE_EXHAUSTED.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace r1serve::rpc {

class AdmissionControl {
 public:
  // An empty `auth_token` admits calls without a token; `max_concurrent_calls` 0 means no limit.
  AdmissionControl(std::string auth_token, int max_concurrent_calls);
  AdmissionControl(const AdmissionControl&) = delete;
  AdmissionControl& operator=(const AdmissionControl&) = delete;

  // OK, or the status the handler should finish the call with. Asking twice for one call is
  // harmless: the second answer is OK without taking a second slot.
  grpc::Status Admit(const grpc::ServerContextBase* context);

  // From now on Admit answers UNAVAILABLE.
  void StartDraining();
  bool draining() const;

  // Admitted calls that have not ended yet (a call that is sending its status still counts).
  int calls_admitted() const;

  // Blocks until every admitted call has ended, or `deadline` passes; true when none is left.
  // A drain waits here before it stops the server, so that no call is cut off while its
  // status is still on its way out.
  bool WaitForAdmittedCallsToEnd(absl::Time deadline) const;

  // The call interceptor reports each call's life here; Admit only works between CallStarted
  // and CallFinishing. CallStarted returns the id the other two take.
  uint64_t CallStarted(const grpc::ServerContextBase* context);
  // The call is sending its status: its slot is free from now on, so a client that has seen
  // the status can count on the slot for its next call.
  void CallFinishing(const grpc::ServerContextBase* context, uint64_t call_id);
  // gRPC is done with the call (finishing first, if it did not).
  void CallEnded(const grpc::ServerContextBase* context, uint64_t call_id);

 private:
  grpc::Status CheckToken(const grpc::ServerContextBase& context) const;

  const std::string auth_token_;
  const int max_concurrent_calls_;

  mutable absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  int slots_taken_ ABSL_GUARDED_BY(mu_) = 0;     // what the limit counts
  int admitted_alive_ ABSL_GUARDED_BY(mu_) = 0;  // what a drain waits for
  uint64_t next_call_id_ ABSL_GUARDED_BY(mu_) = 0;
  struct Call {
    uint64_t id;            // tells this call from a later one that reuses the context object
    bool admitted = false;  // Admit() said yes
    bool holds_slot = false;
  };
  // Every call in progress, keyed by context because that is what a handler has in hand.
  absl::flat_hash_map<const grpc::ServerContextBase*, Call> calls_ ABSL_GUARDED_BY(mu_);

  void ReleaseSlot(Call& call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(Call& call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace r1serve::rpc
