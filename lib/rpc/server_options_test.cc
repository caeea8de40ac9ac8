#include "lib/rpc/server_options.h"

#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/rpc/logging.h"

namespace r1serve::rpc {
namespace {

using ::testing::HasSubstr;

std::string WriteTempFile(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << contents;
  return path;
}

TEST(ServerOptionsTest, DefaultsValidate) {
  EXPECT_TRUE(ValidateServerOptions(ServerOptions()).ok());
}

TEST(ServerOptionsTest, FlagDefaultsMatchStructDefaults) {
  absl::FlagSaver saver;
  absl::StatusOr<ServerOptions> options = ServerOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  const ServerOptions defaults;
  EXPECT_EQ(options->host, "0.0.0.0");
  EXPECT_EQ(options->port, defaults.port);
  EXPECT_EQ(options->metrics_port, defaults.metrics_port);
  EXPECT_EQ(options->max_message_bytes, defaults.max_message_bytes);
  EXPECT_EQ(options->max_concurrent_calls, defaults.max_concurrent_calls);
  EXPECT_EQ(options->drain_timeout, defaults.drain_timeout);
  EXPECT_TRUE(options->auth_token.empty());
  EXPECT_TRUE(options->tls_cert_pem.empty());
}

TEST(ServerOptionsTest, ReadsFlags) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_host, "127.0.0.1");
  absl::SetFlag(&FLAGS_port, 50051);
  absl::SetFlag(&FLAGS_metrics_port, -1);
  absl::SetFlag(&FLAGS_max_message_bytes, 1 << 20);
  absl::SetFlag(&FLAGS_max_concurrent_calls, 8);
  absl::SetFlag(&FLAGS_drain_timeout_s, 2.5);
  absl::StatusOr<ServerOptions> options = ServerOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "127.0.0.1");
  EXPECT_EQ(options->port, 50051);
  EXPECT_EQ(options->metrics_port, -1);
  EXPECT_EQ(options->max_message_bytes, 1 << 20);
  EXPECT_EQ(options->max_concurrent_calls, 8);
  EXPECT_EQ(options->drain_timeout, absl::Milliseconds(2500));
}

TEST(ServerOptionsTest, TokenFileIsReadAndTrimmed) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_auth_token_file, WriteTempFile("token", "  abc123\n"));
  absl::StatusOr<ServerOptions> options = ServerOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->auth_token, "abc123");
}

TEST(ServerOptionsTest, TokenAndTokenFileAreExclusive) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_auth_token, "abc");
  absl::SetFlag(&FLAGS_auth_token_file, WriteTempFile("token2", "abc"));
  EXPECT_EQ(ServerOptionsFromFlags().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerOptionsTest, EmptyTokenFileIsAnError) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_auth_token_file, WriteTempFile("empty_token", "\n"));
  EXPECT_THAT(ServerOptionsFromFlags().status().message(), HasSubstr("holds no token"));
}

TEST(ServerOptionsTest, MissingFilesAreNamedInTheError) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_tls_cert, "/nonexistent/cert.pem");
  absl::SetFlag(&FLAGS_tls_key, "/nonexistent/key.pem");
  absl::Status status = ServerOptionsFromFlags().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("--tls_cert file '/nonexistent/cert.pem'"));
}

TEST(ServerOptionsTest, TlsNeedsCertAndKeyTogether) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_tls_cert, WriteTempFile("cert.pem", "cert"));
  EXPECT_EQ(ServerOptionsFromFlags().status().code(), absl::StatusCode::kInvalidArgument);
  absl::SetFlag(&FLAGS_tls_key, WriteTempFile("key.pem", "key"));
  absl::StatusOr<ServerOptions> options = ServerOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->tls_cert_pem, "cert");
  EXPECT_EQ(options->tls_key_pem, "key");
}

TEST(ServerOptionsTest, RejectsOutOfRangeValues) {
  const auto invalid = [](auto change) {
    ServerOptions options;
    change(options);
    return ValidateServerOptions(options).code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.port = 70000; }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.port = -1; }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.metrics_port = -2; }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.port = o.metrics_port = 9000; }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.max_message_bytes = 0; }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.max_message_bytes = int64_t{1} << 40; }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.max_concurrent_calls = -1; }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.drain_timeout = absl::Seconds(-1); }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.tls_key_pem = "key only"; }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.auth_token = "has space"; }));
  EXPECT_TRUE(invalid([](ServerOptions& o) { o.host = ""; }));
}

TEST(ServerOptionsTest, NegativeDrainFlagIsRejected) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_drain_timeout_s, -1.0);
  EXPECT_EQ(ServerOptionsFromFlags().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LogLevelFlagTest, ParsesNamesAndRejectsOthers) {
  absl::FlagSaver saver;
  std::string error;
  EXPECT_TRUE(absl::FindCommandLineFlag("log_level")->ParseFrom("WARN", &error));
  EXPECT_EQ(absl::GetFlag(FLAGS_log_level), LogLevel::kWarning);
  EXPECT_FALSE(absl::FindCommandLineFlag("log_level")->ParseFrom("chatty", &error));
  EXPECT_THAT(error, HasSubstr("debug, info, warning or error"));
  EXPECT_EQ(AbslUnparseFlag(LogLevel::kDebug), "debug");
}

TEST(LoggingTest, InitLoggingFromFlagsSetsTheThreshold) {
  absl::FlagSaver saver;
  const LogLevel before = GetLogLevel();
  absl::SetFlag(&FLAGS_log_level, LogLevel::kError);
  InitLoggingFromFlags();
  EXPECT_FALSE(LogEnabled(LogLevel::kWarning));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  SetLogLevel(before);
}

TEST(LoggingTest, FormatsOneLinePerEvent) {
  const absl::Time time = absl::FromUnixMicros(1700000000123456);
  EXPECT_EQ(FormatLogLine(time, LogLevel::kWarning, "decode", "slow\nstep"),
            "2023-11-14T22:13:20.123456Z WARNING decode: slow step\n");
}

TEST(LoggingTest, FilteredStatementsDoNotEvaluateTheirOperands) {
  const LogLevel before = GetLogLevel();
  SetLogLevel(LogLevel::kError);
  int evaluated = 0;
  R1_LOG(kDebug, "test") << ++evaluated;
  EXPECT_EQ(evaluated, 0);
  testing::internal::CaptureStderr();
  R1_LOG(kError, "test") << "boom " << ++evaluated;
  EXPECT_THAT(testing::internal::GetCapturedStderr(), HasSubstr(" ERROR test: boom 1\n"));
  SetLogLevel(before);
}

}  // namespace
}  // namespace r1serve::rpc
