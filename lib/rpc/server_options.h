// Settings every r1serve service binary shares, and the command-line flags that fill them.
// The flags are defined here once; a service main() parses the command line and turns the flags
// into a ServerOptions. Tests build a ServerOptions directly and never touch flags.
//
//   int main(int argc, char** argv) {
//     absl::SetFlag(&FLAGS_port, 50051);  // optional: this service's default port
//     absl::ParseCommandLine(argc, argv);
//     r1serve::rpc::InitLoggingFromFlags();
//     absl::StatusOr<r1serve::rpc::ServerOptions> options = r1serve::rpc::ServerOptionsFromFlags();
//     if (!options.ok()) { /* print options.status().message(), exit 2 */ }
//     r1serve::rpc::ServiceHost host("tokenizer", *options);
//     ...
//   }
//
// Flags: --host --port --metrics_port --max_message_bytes --max_concurrent_calls
//        --drain_timeout_s --tls_cert --tls_key --auth_token --auth_token_file --log_level
#pragma once

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/rpc/logging.h"

namespace r1serve::rpc {

struct ServerOptions {
  // 0.0.0.0 by default: in Kubernetes the kubelet's probes and the other pods reach the
  // process through the pod IP, so loopback would make a deployed service unreachable. On a
  // shared development machine pass --host=127.0.0.1.
  std::string host = "0.0.0.0";
  int port = 0;          // gRPC port; 0 picks a free one (ServiceHost::grpc_port() says which)
  int metrics_port = 0;  // Prometheus /metrics port; 0 picks a free one, -1 disables it
  // Applies to both directions. 64 MiB rather than gRPC's 4 MiB default because one KV chunk
  // of a long prompt on a large model is several MiB.
  int64_t max_message_bytes = int64_t{64} << 20;
  // Calls admitted at once (ServiceHost::Admit); 0 means no limit.
  int max_concurrent_calls = 1024;
  // How long a drain waits for in-flight calls before cancelling them. 25 s stays below
  // Kubernetes' default 30 s grace period, so a drain finishes before SIGKILL.
  absl::Duration drain_timeout = absl::Seconds(25);
  // PEM text of the server certificate chain and private key; both empty means plaintext.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // When non-empty, Admit() requires "authorization: Bearer <auth_token>".
  std::string auth_token;
};

// Checks ranges and pairings (ports, sizes, TLS cert and key together). ServiceHost::Start
// calls it too, so a hand-built ServerOptions gets the same messages.
absl::Status ValidateServerOptions(const ServerOptions& options);

// Builds ServerOptions from the flags, reading the TLS and token files they name.
absl::StatusOr<ServerOptions> ServerOptionsFromFlags();

// Applies --log_level.
void InitLoggingFromFlags();

// Reads a whole file (a PEM certificate, a key, a token); `what` names it in the error
// message, e.g. "--tls_cert".
absl::StatusOr<std::string> ReadCredentialFile(const std::string& path, absl::string_view what);

// Lets LogLevel be a flag type: --log_level=debug|info|warning|error.
bool AbslParseFlag(absl::string_view text, LogLevel* level, std::string* error);
std::string AbslUnparseFlag(LogLevel level);

}  // namespace r1serve::rpc

ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(int32_t, port);
ABSL_DECLARE_FLAG(int32_t, metrics_port);
ABSL_DECLARE_FLAG(int64_t, max_message_bytes);
ABSL_DECLARE_FLAG(int32_t, max_concurrent_calls);
ABSL_DECLARE_FLAG(double, drain_timeout_s);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, auth_token);
ABSL_DECLARE_FLAG(std::string, auth_token_file);
ABSL_DECLARE_FLAG(r1serve::rpc::LogLevel, log_level);
