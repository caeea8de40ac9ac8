// ServiceHost runs one r1serve service process's serving side: the gRPC server with its
// services, grpc.health.v1 health, server reflection, the Prometheus /metrics endpoint, call
// metrics, admission (token, concurrency limit, drain) and graceful shutdown on SIGTERM/SIGINT.
//
//   int main(int argc, char** argv) {
//     absl::ParseCommandLine(argc, argv);
//     r1serve::rpc::InitLoggingFromFlags();
//     absl::StatusOr<r1serve::rpc::ServerOptions> options = r1serve::rpc::ServerOptionsFromFlags();
//     if (!options.ok()) { /* report options.status(), return 2 */ }
//     r1serve::rpc::ServiceHost host("tokenizer", *options);
//     TokenizerService service(&host);      // handlers call host.Admit(context) first
//     host.AddService(&service);
//     if (absl::Status s = host.Start(); !s.ok()) { /* report s, return 1 */ }
//     ...load the model...
//     host.SetServing(true);                // health: NOT_SERVING -> SERVING
//     host.ServeUntilSignal();              // returns once SIGTERM/SIGINT has drained the server
//   }
//
// Start() logs one line that launchers and tests parse, whatever --log_level says:
//   r1serve tokenizer listening grpc=0.0.0.0:50051 metrics=9090     (metrics=off when disabled)
//
// Health: the overall ("") status starts NOT_SERVING, follows SetServing(), and turns
// NOT_SERVING for good when the drain begins. (gRPC's default health service reports SERVING for
// the instant between the server starting and Start() turning it off; nobody can know a port-0
// server's address in that instant, and probes of a fixed port start later.)
//
// Drain, from a signal or Shutdown(): Admit() answers UNAVAILABLE and health turns NOT_SERVING
// (Watch streams see it) while the server keeps its port open; once the admitted calls have
// finished, or drain_timeout has passed, the server stops and cancels what is left (health
// watches, reflection streams, overdue calls); then /metrics stops. Handlers of long calls
// should watch context->IsCancelled() (sync) or OnCancel (callback) so a cancellation ends them.
// Calls that never asked Admit() are not waited for.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "lib/rpc/admission_control.h"
#include "lib/rpc/rpc_metrics.h"
#include "lib/rpc/server_options.h"

namespace r1serve::rpc {

class ServiceHost {
 public:
  // `service_name` ("tokenizer", "decode", ...) names the process in logs.
  ServiceHost(std::string service_name, ServerOptions options);
  // Drains (Shutdown()) if still running.
  ~ServiceHost();
  ServiceHost(const ServiceHost&) = delete;
  ServiceHost& operator=(const ServiceHost&) = delete;

  // Before Start(). Sync and callback services alike (both are grpc::Service); the services
  // must outlive the host.
  void AddService(grpc::Service* service);
  // Before Start(). Serves every method no registered service claims (proxies, tests).
  void AddGenericService(grpc::CallbackGenericService* service);

  // Binds both ports, starts serving with health NOT_SERVING, and logs the listening line.
  // Fails with a message naming the address on a bad option or a port that cannot be bound.
  absl::Status Start();

  // The bound ports, after a successful Start(); metrics_port() is -1 when disabled.
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }

  // Where services add their own metrics; served on /metrics. Usable before Start().
  prometheus::Registry& metrics_registry() { return *registry_; }

  // Every service handler calls this first and finishes the call with the result when it is
  // not OK (see admission_control.h for the sync and callback forms).
  grpc::Status Admit(const grpc::ServerContextBase* context) { return admission_.Admit(context); }

  // Health status "" (what Kubernetes and grpc_health_probe ask by default). Called before
  // Start(), it takes effect at Start(); ignored once the drain has begun.
  void SetServing(bool serving);

  // Drains and stops (see above); blocks until done. Idempotent and thread-safe: a second
  // caller waits for the first one's drain. Before Start() it only marks the host stopped.
  void Shutdown();

  // Blocks until SIGTERM or SIGINT arrives, then drains; or until Shutdown() is called elsewhere
  // and has finished. The handlers are installed only while this runs, and the first signal puts
  // back the previous ones, so a second Ctrl-C ends a drain that takes too long. One per process.
  void ServeUntilSignal();

 private:
  enum class State { kNew, kRunning, kDraining, kStopped };

  const std::string name_;
  const ServerOptions options_;
  const std::shared_ptr<prometheus::Registry> registry_;
  RpcMetrics rpc_metrics_;
  AdmissionControl admission_;
  std::vector<grpc::Service*> services_;
  grpc::CallbackGenericService* generic_service_ = nullptr;

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<grpc::Server> server_;
  int grpc_port_ = 0;
  int metrics_port_ = -1;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kNew;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  // Write end of the pipe ServeUntilSignal() polls, so Shutdown() from another thread wakes it.
  int wake_fd_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace r1serve::rpc
