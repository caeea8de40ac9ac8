#include "lib/rpc/client_channel.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::rpc {
namespace {

using ::testing::HasSubstr;

TEST(ClientChannelTest, WaitForReadyTimesOutWithTheChannelState) {
  // Port 1 on loopback: nothing listens there, so the connection is refused.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateChannel("127.0.0.1:1", {});
  ASSERT_TRUE(channel.ok()) << channel.status();
  absl::Status status = WaitForChannelReady(**channel, absl::Milliseconds(200));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("not ready after 200ms"));
}

TEST(ClientChannelTest, RejectsInconsistentOptions) {
  ChannelOptions tls_bits_without_tls;
  tls_bits_without_tls.tls_server_name = "localhost";
  EXPECT_EQ(CreateChannel("127.0.0.1:1", tls_bits_without_tls).status().code(),
            absl::StatusCode::kInvalidArgument);

  ChannelOptions bad_token;
  bad_token.auth_token = "two\nlines";
  EXPECT_EQ(CreateChannel("127.0.0.1:1", bad_token).status().code(),
            absl::StatusCode::kInvalidArgument);

  ChannelOptions too_big;
  too_big.max_message_bytes = int64_t{1} << 40;
  EXPECT_EQ(CreateChannel("127.0.0.1:1", too_big).status().code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(CreateChannel("", {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClientChannelTest, CreatesTlsAndTokenChannels) {
  ChannelOptions options;
  options.use_tls = true;  // system roots
  options.auth_token = "abc";
  EXPECT_TRUE(CreateChannel("localhost:443", options).ok());
}

}  // namespace
}  // namespace r1serve::rpc
