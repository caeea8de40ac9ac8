#include "lib/rpc/server_options.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

// Defaults come from ServerOptions so that flags and hand-built options cannot disagree.
ABSL_FLAG(std::string, host, r1serve::rpc::ServerOptions().host,
          "Address to listen on (gRPC and metrics). 0.0.0.0 serves every interface, as "
          "Kubernetes needs; use 127.0.0.1 to stay local on a shared machine.");
ABSL_FLAG(int32_t, port, r1serve::rpc::ServerOptions().port,
          "gRPC port; 0 picks a free port and logs it.");
ABSL_FLAG(int32_t, metrics_port, r1serve::rpc::ServerOptions().metrics_port,
          "Prometheus /metrics port; 0 picks a free port and logs it, -1 disables metrics.");
ABSL_FLAG(int64_t, max_message_bytes, r1serve::rpc::ServerOptions().max_message_bytes,
          "Largest gRPC message accepted or sent, in bytes.");
ABSL_FLAG(int32_t, max_concurrent_calls, r1serve::rpc::ServerOptions().max_concurrent_calls,
          "Calls served at once; further calls get RESOURCE_EXHAUSTED. 0 means no limit.");
ABSL_FLAG(double, drain_timeout_s,
          absl::ToDoubleSeconds(r1serve::rpc::ServerOptions().drain_timeout),
          "On SIGTERM/SIGINT, seconds to let in-flight calls finish before cancelling them.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain file; with --tls_key, serves gRPC over TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key file for --tls_cert.");
ABSL_FLAG(std::string, auth_token, "",
          "Require 'authorization: Bearer <token>' on service calls (health and reflection "
          "stay open). Visible in ps: prefer --auth_token_file.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding the bearer token (e.g. a mounted Kubernetes secret); surrounding "
          "whitespace is ignored.");
ABSL_FLAG(r1serve::rpc::LogLevel, log_level, r1serve::rpc::LogLevel::kInfo,
          "Lowest level logged: debug, info, warning or error.");

namespace r1serve::rpc {
namespace {

bool IsValidPort(int port) { return port >= 0 && port <= 65535; }

}  // namespace

bool AbslParseFlag(absl::string_view text, LogLevel* level, std::string* error) {
  if (ParseLogLevel(text, level)) return true;
  *error = absl::StrCat("unknown log level '", text, "'; use debug, info, warning or error");
  return false;
}

std::string AbslUnparseFlag(LogLevel level) { return absl::AsciiStrToLower(LogLevelName(level)); }

absl::Status ValidateServerOptions(const ServerOptions& options) {
  if (options.host.empty()) return absl::InvalidArgumentError("--host must not be empty");
  if (!IsValidPort(options.port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port=", options.port, " is not a port (0..65535; 0 picks a free one)"));
  }
  if (options.metrics_port != -1 && !IsValidPort(options.metrics_port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_port=", options.metrics_port,
                     " is not a port (0..65535; 0 picks a free one, -1 disables metrics)"));
  }
  if (options.port != 0 && options.port == options.metrics_port) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port and --metrics_port are both ", options.port, "; they need two ports"));
  }
  if (options.max_message_bytes < 1 || options.max_message_bytes > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_message_bytes=", options.max_message_bytes, " is out of range (1..", INT_MAX, ")"));
  }
  if (options.max_concurrent_calls < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_concurrent_calls=", options.max_concurrent_calls,
                     " is negative (0 means no limit)"));
  }
  if (options.drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_timeout_s must not be negative");
  }
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate and a key (--tls_cert and --tls_key), or neither");
  }
  for (char c : options.auth_token) {
    // The token travels in an HTTP/2 header value and is compared byte for byte.
    if (c <= ' ' || c == 0x7f) {
      return absl::InvalidArgumentError(
          "the auth token contains whitespace or control characters; use a printable token");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadCredentialFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", what, " file '", path, "': ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("error while reading ", what, " file '", path, "'"));
  }
  return contents.str();
}

absl::StatusOr<ServerOptions> ServerOptionsFromFlags() {
  ServerOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_concurrent_calls = absl::GetFlag(FLAGS_max_concurrent_calls);
  const double drain_s = absl::GetFlag(FLAGS_drain_timeout_s);
  if (!(drain_s >= 0)) {  // also rejects NaN
    return absl::InvalidArgumentError(
        absl::StrCat("--drain_timeout_s=", drain_s, " must be zero or more seconds"));
  }
  options.drain_timeout = absl::Seconds(drain_s);

  const std::string cert_path = absl::GetFlag(FLAGS_tls_cert);
  const std::string key_path = absl::GetFlag(FLAGS_tls_key);
  if (cert_path.empty() != key_path.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together: pass both or neither");
  }
  if (!cert_path.empty()) {
    ASSIGN_OR_RETURN(options.tls_cert_pem, ReadCredentialFile(cert_path, "--tls_cert"));
    ASSIGN_OR_RETURN(options.tls_key_pem, ReadCredentialFile(key_path, "--tls_key"));
    if (options.tls_cert_pem.empty() || options.tls_key_pem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--tls_cert '", cert_path, "' or --tls_key '",
                                                     key_path, "' is an empty file"));
    }
  }

  const std::string token = absl::GetFlag(FLAGS_auth_token);
  const std::string token_path = absl::GetFlag(FLAGS_auth_token_file);
  if (!token.empty() && !token_path.empty()) {
    return absl::InvalidArgumentError(
        "--auth_token and --auth_token_file are exclusive; keep --auth_token_file");
  }
  if (!token_path.empty()) {
    ASSIGN_OR_RETURN(std::string file_token, ReadCredentialFile(token_path, "--auth_token_file"));
    // Secret files usually end with a newline that is not part of the token.
    options.auth_token = std::string(absl::StripAsciiWhitespace(file_token));
    if (options.auth_token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth_token_file '", token_path, "' holds no token"));
    }
  } else {
    options.auth_token = token;
  }

  RETURN_IF_ERROR(ValidateServerOptions(options));
  return options;
}

void InitLoggingFromFlags() { SetLogLevel(absl::GetFlag(FLAGS_log_level)); }

}  // namespace r1serve::rpc
