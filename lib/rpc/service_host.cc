#include "lib/rpc/service_host.h"

#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstring>
#include <exception>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/call_tracking.h"
#include "lib/rpc/logging.h"

namespace r1serve::rpc {
namespace {

// "0.0.0.0:50051", "[::]:50051".
std::string JoinHostPort(const std::string& host, int port) {
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

// The self-pipe of the signal handler: the handler may only do async-signal-safe things, so it
// writes the signal number into a pipe and ServeUntilSignal() does the real work on its own
// thread. Created once and never closed, so a handler running late can never write into a
// descriptor that has been closed and reused.
int g_signal_pipe[2] = {-1, -1};
std::atomic<bool> g_signal_pipe_ok{false};

void CreateSignalPipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) == 0) g_signal_pipe_ok = true;
  });
}

extern "C" void OnShutdownSignal(int signal_number) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  // A full pipe already holds a wake-up; nothing more to do when the write fails.
  [[maybe_unused]] ssize_t ignored = ::write(g_signal_pipe[1], &byte, 1);
  errno = saved_errno;
}

void DrainPipe(int fd) {
  unsigned char buffer[64];
  while (::read(fd, buffer, sizeof(buffer)) > 0) {
  }
}

}  // namespace

ServiceHost::ServiceHost(std::string service_name, ServerOptions options)
    : name_(std::move(service_name)),
      options_(std::move(options)),
      registry_(std::make_shared<prometheus::Registry>()),
      rpc_metrics_(*registry_),
      admission_(options_.auth_token, options_.max_concurrent_calls) {}

ServiceHost::~ServiceHost() { Shutdown(); }

void ServiceHost::AddService(grpc::Service* service) { services_.push_back(service); }

void ServiceHost::AddGenericService(grpc::CallbackGenericService* service) {
  generic_service_ = service;
}

absl::Status ServiceHost::Start() {
  RETURN_IF_ERROR(ValidateServerOptions(options_));
  {
    absl::MutexLock lock(&mu_);
    if (state_ != State::kNew) {
      return absl::FailedPreconditionError(absl::StrCat(name_, ": Start() called twice"));
    }
  }

  if (options_.metrics_port >= 0) {
    const std::string address = JoinHostPort(options_.host, options_.metrics_port);
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/2);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("cannot serve /metrics on ", address, ": ",
                                                 e.what(), " (port in use? try --metrics_port=0)"));
    }
    exposer_->RegisterCollectable(registry_);
    const std::vector<int> ports = exposer_->GetListeningPorts();
    metrics_port_ = ports.empty() ? options_.metrics_port : ports.front();
  }

  // Both are process-wide switches that take effect for servers built from now on.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (!options_.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({options_.tls_key_pem, options_.tls_cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
  } else {
    credentials = grpc::InsecureServerCredentials();
  }

  grpc::ServerBuilder builder;
  const std::string address = JoinHostPort(options_.host, options_.port);
  builder.AddListeningPort(address, credentials, &grpc_port_);
  // gRPC sets SO_REUSEPORT by default, which lets a second instance (a stale process, a
  // mistyped flag) silently share the port and take half the calls. Fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options_.max_message_bytes));
  for (grpc::Service* service : services_) builder.RegisterService(service);
  if (generic_service_ != nullptr) builder.RegisterCallbackGenericService(generic_service_);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<CallTrackingInterceptorFactory>(&rpc_metrics_, &admission_));
  builder.experimental().SetInterceptorCreators(std::move(creators));

  server_ = builder.BuildAndStart();
  if (server_ == nullptr || grpc_port_ == 0) {
    server_.reset();
    exposer_.reset();
    metrics_port_ = -1;
    return absl::UnavailableError(
        absl::StrCat("cannot serve gRPC on ", address,
                     ": the port is in use, the host is not an address of this machine, or the TLS "
                     "certificate and key do not load (gRPC's log above says which)"));
  }

  bool serving;
  {
    absl::MutexLock lock(&mu_);
    state_ = State::kRunning;
    serving = serving_;
  }
  server_->GetHealthCheckService()->SetServingStatus(serving);

  LogAlways(
      LogLevel::kInfo, name_,
      absl::StrCat("r1serve ", name_, " listening grpc=", JoinHostPort(options_.host, grpc_port_),
                   " metrics=", metrics_port_ >= 0 ? absl::StrCat(metrics_port_) : "off"));
  Log(LogLevel::kInfo, name_,
      absl::StrCat("tls=", options_.tls_cert_pem.empty() ? "off" : "on",
                   " auth=", options_.auth_token.empty() ? "off" : "bearer",
                   " max_concurrent_calls=", options_.max_concurrent_calls,
                   " max_message_bytes=", options_.max_message_bytes,
                   " drain_timeout=", absl::FormatDuration(options_.drain_timeout)));
  return absl::OkStatus();
}

void ServiceHost::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kDraining || state_ == State::kStopped) return;
  serving_ = serving;
  if (state_ == State::kRunning) {
    server_->GetHealthCheckService()->SetServingStatus(serving);
    Log(LogLevel::kInfo, name_, serving ? "health: SERVING" : "health: NOT_SERVING");
  }
}

void ServiceHost::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kNew) {
      state_ = State::kStopped;
      return;
    }
    if (state_ != State::kRunning) {
      auto stopped = [this]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_ == State::kStopped; };
      mu_.Await(absl::Condition(&stopped));
      return;
    }
    state_ = State::kDraining;
    if (wake_fd_ >= 0) {
      const unsigned char byte = 0;
      [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &byte, 1);
    }
  }

  admission_.StartDraining();
  // Turns every health status NOT_SERVING for good: load balancers and Watch streams move
  // traffic away while the calls in flight finish.
  server_->GetHealthCheckService()->Shutdown();
  const absl::Time deadline = absl::Now() + options_.drain_timeout;
  Log(LogLevel::kInfo, name_,
      absl::StrCat("draining: ", admission_.calls_admitted(), " calls in flight, waiting up to ",
                   absl::FormatDuration(options_.drain_timeout)));
  // Wait for the admitted (service) calls only. grpc::Server::Shutdown(deadline) would also wait
  // for calls that never end by themselves, such as health Watch streams that gRPC clients keep
  // open, and so would stretch every drain to the full timeout.
  if (!admission_.WaitForAdmittedCallsToEnd(deadline)) {
    Log(LogLevel::kWarning, name_,
        absl::StrCat("drain timeout: cancelling ", admission_.calls_admitted(),
                     " calls still in flight"));
  }
  // The server was still accepting connections until here, answering health NOT_SERVING and
  // service calls UNAVAILABLE (both tell clients to go elsewhere). Now stop it, cancelling
  // whatever is left (watches, reflection streams, calls past the deadline).
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  // Metrics go last so that a scrape during the drain still sees the server.
  exposer_.reset();
  Log(LogLevel::kInfo, name_, "stopped");

  absl::MutexLock lock(&mu_);
  state_ = State::kStopped;
}

void ServiceHost::ServeUntilSignal() {
  CreateSignalPipeOnce();
  int wake[2];
  if (!g_signal_pipe_ok || ::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    Log(LogLevel::kError, name_,
        absl::StrCat("cannot create a pipe for signal handling (", std::strerror(errno),
                     "); serving until Shutdown() without SIGTERM handling"));
    absl::MutexLock lock(&mu_);
    auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return state_ == State::kStopped || state_ == State::kNew;
    };
    mu_.Await(absl::Condition(&settled));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (state_ != State::kRunning) {
      ::close(wake[0]);
      ::close(wake[1]);
      if (state_ == State::kNew) {
        Log(LogLevel::kError, name_, "ServeUntilSignal() called before a successful Start()");
        return;
      }
      auto stopped = [this]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_ == State::kStopped; };
      mu_.Await(absl::Condition(&stopped));
      return;
    }
    wake_fd_ = wake[1];
  }

  DrainPipe(g_signal_pipe[0]);  // leftovers from an earlier ServeUntilSignal() in this process
  struct sigaction action = {};
  action.sa_handler = OnShutdownSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  struct sigaction previous_term = {};
  struct sigaction previous_int = {};
  ::sigaction(SIGTERM, &action, &previous_term);
  ::sigaction(SIGINT, &action, &previous_int);

  int signal_number = 0;
  pollfd fds[2] = {{g_signal_pipe[0], POLLIN, 0}, {wake[0], POLLIN, 0}};
  while (true) {
    const int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      Log(LogLevel::kError, name_, absl::StrCat("poll failed: ", std::strerror(errno)));
      break;
    }
    if (fds[0].revents & POLLIN) {
      unsigned char byte = 0;
      if (::read(g_signal_pipe[0], &byte, 1) == 1) signal_number = byte;
    }
    if (signal_number != 0 || (fds[1].revents & POLLIN)) break;
  }

  // Put back the previous handlers before draining: a second signal then takes its usual
  // effect (for SIGINT/SIGTERM, exit now), which is the way out of a drain that takes too long.
  ::sigaction(SIGTERM, &previous_term, nullptr);
  ::sigaction(SIGINT, &previous_int, nullptr);
  if (signal_number != 0) {
    Log(LogLevel::kInfo, name_,
        absl::StrCat("received ", signal_number == SIGTERM ? "SIGTERM" : "SIGINT",
                     "; draining for up to ", absl::FormatDuration(options_.drain_timeout),
                     " (send it again to stop at once)"));
  }
  Shutdown();  // begins the drain, or waits for the one that woke us

  absl::MutexLock lock(&mu_);
  wake_fd_ = -1;
  ::close(wake[0]);
  ::close(wake[1]);
}

}  // namespace r1serve::rpc
