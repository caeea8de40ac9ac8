#include "lib/rpc/client_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>

#include <climits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace r1serve::rpc {
namespace {

using grpc::experimental::InterceptionHookPoints;

class BearerTokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* header_value) : header_value_(header_value) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_value_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_value_;  // owned by the factory, which the channel keeps
};

class BearerTokenInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(const std::string& token)
      : header_value_(absl::StrCat("Bearer ", token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new BearerTokenInterceptor(&header_value_);
  }

 private:
  const std::string header_value_;
};

absl::string_view ChannelStateName(grpc_connectivity_state state) {
  switch (state) {
    case GRPC_CHANNEL_IDLE:
      return "IDLE";
    case GRPC_CHANNEL_CONNECTING:
      return "CONNECTING";
    case GRPC_CHANNEL_READY:
      return "READY";
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return "TRANSIENT_FAILURE";
    case GRPC_CHANNEL_SHUTDOWN:
      return "SHUTDOWN";
  }
  return "UNKNOWN";
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const std::string& target,
                                                             const ChannelOptions& options) {
  if (target.empty()) return absl::InvalidArgumentError("empty gRPC target address");
  if (options.max_message_bytes < 1 || options.max_message_bytes > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("max_message_bytes=", options.max_message_bytes,
                                                   " is out of range (1..", INT_MAX, ")"));
  }
  if (!options.use_tls &&
      (!options.tls_root_certs_pem.empty() || !options.tls_server_name.empty())) {
    return absl::InvalidArgumentError(
        "TLS root certificates or server name given for a plaintext channel; set use_tls");
  }
  for (char c : options.auth_token) {
    if (c <= ' ' || c == 0x7f) {
      return absl::InvalidArgumentError(
          "the auth token contains whitespace or control characters; use a printable token");
    }
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  if (options.stream_window_bytes < 0 || options.stream_window_bytes > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stream_window_bytes=", options.stream_window_bytes, " is out of range (0..", INT_MAX, ")"));
  }
  if (options.stream_window_bytes > 0) {
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
                static_cast<int>(options.stream_window_bytes));
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.use_tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_certs_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }

  if (options.auth_token.empty()) return grpc::CreateCustomChannel(target, credentials, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<BearerTokenInterceptorFactory>(options.auth_token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, args,
                                                                 std::move(creators));
}

absl::Status WaitForChannelReady(grpc::Channel& channel, absl::Duration timeout) {
  if (channel.WaitForConnected(absl::ToChronoTime(absl::Now() + timeout))) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("gRPC channel not ready after ", absl::FormatDuration(timeout), " (state ",
                   ChannelStateName(channel.GetState(/*try_to_connect=*/false)),
                   "): is the server up, and do the address, TLS setting and certificate match?"));
}

}  // namespace r1serve::rpc
