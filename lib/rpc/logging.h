// A tiny structured logger shared by every r1serve binary: one line per event on stderr,
//
//   2025-03-01T12:00:00.123456Z INFO rpc: r1serve decode listening grpc=0.0.0.0:50051 metrics=9090
//
// i.e. timestamp (UTC, microseconds), level, component, message. Lines are written with a
// single write(2), so lines from concurrent threads never interleave.
//
//   r1serve::rpc::SetLogLevel(r1serve::rpc::LogLevel::kDebug);
//   r1serve::rpc::Log(LogLevel::kInfo, "decode", absl::StrCat("loaded ", path));
//   R1_LOG(kWarning, "gateway") << "decode instance " << addr << " is slow";
#pragma once

#include <sstream>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace r1serve::rpc {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Process-wide threshold; lines below it are dropped. Defaults to kInfo.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool LogEnabled(LogLevel level);

// "debug", "info", "warning" (or "warn"), "error", case-insensitive.
bool ParseLogLevel(absl::string_view text, LogLevel* level);
absl::string_view LogLevelName(LogLevel level);  // "DEBUG", "INFO", "WARNING", "ERROR"

// Writes one line if `level` passes the threshold.
void Log(LogLevel level, absl::string_view component, absl::string_view message);

// Writes one line whatever the threshold: for lines other programs parse (the listening line),
// which must not vanish because an operator asked for --log_level=error.
void LogAlways(LogLevel level, absl::string_view component, absl::string_view message);

// The exact text of one line (with the trailing newline); exposed for tests.
std::string FormatLogLine(absl::Time time, LogLevel level, absl::string_view component,
                          absl::string_view message);

namespace internal {
// Collects a streamed message and logs it when the statement ends (see R1_LOG).
class LogMessage {
 public:
  LogMessage(LogLevel level, absl::string_view component) : level_(level), component_(component) {}
  ~LogMessage() { Log(level_, component_, stream_.str()); }
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::string component_;
  std::ostringstream stream_;
};
}  // namespace internal

}  // namespace r1serve::rpc

// Streams a message; the operands are not evaluated when the level is filtered out.
#define R1_LOG(level, component)                                      \
  if (!::r1serve::rpc::LogEnabled(::r1serve::rpc::LogLevel::level)) { \
  } else                                                              \
    ::r1serve::rpc::internal::LogMessage(::r1serve::rpc::LogLevel::level, component).stream()
