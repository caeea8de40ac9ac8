// Client channels between r1serve services (gateway -> tokenizer, decode -> prefill, ...) with
// the same message-size limit, TLS and bearer token the servers expect.
//
//   ChannelOptions options;
//   options.auth_token = token;                      // sent as "authorization: Bearer <token>"
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
//       CreateChannel("decode-0.decode:50051", options);
//   if (!channel.ok()) return channel.status();
//   RETURN_IF_ERROR(WaitForChannelReady(**channel, absl::Seconds(10)));
//   auto stub = r1serve::v1::Decode::NewStub(*channel);
#pragma once

#include <grpcpp/channel.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace r1serve::rpc {

struct ChannelOptions {
  int64_t max_message_bytes = int64_t{64} << 20;  // same default as ServerOptions
  bool use_tls = false;
  // PEM roots that verify the server's certificate; empty with use_tls means the system roots.
  std::string tls_root_certs_pem;
  // Name checked against the server certificate instead of the target's host name (a
  // certificate issued for "decode.r1serve.svc" reached through an IP, or tests).
  std::string tls_server_name;
  // Non-empty: every call carries "authorization: Bearer <auth_token>". Sent as plain metadata
  // rather than gRPC call credentials, which gRPC refuses to send over a plaintext channel and
  // which would therefore fail in local and in-cluster plaintext deployments.
  std::string auth_token;
  // Bytes a stream may receive ahead of the reader (HTTP/2 flow-control window). 0: gRPC's
  // default (64 KiB, grown by BDP probing). Decode sets 16 MiB for KV streams so that a burst
  // of one layer's chunks never waits for window updates.
  int64_t stream_window_bytes = 0;
};

// Creates the channel; it connects lazily, on the first call or WaitForChannelReady().
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const std::string& target,
                                                             const ChannelOptions& options);

// Connects and waits until the channel is READY, or returns DEADLINE_EXCEEDED after `timeout`
// with the channel's last state in the message.
absl::Status WaitForChannelReady(grpc::Channel& channel, absl::Duration timeout);

}  // namespace r1serve::rpc
