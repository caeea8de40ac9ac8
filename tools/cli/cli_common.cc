#include "tools/cli/cli_common.h"

#include <chrono>
#include <iostream>

#include "absl/flags/flag.h"

ABSL_FLAG(double, timeout_s, 120, "deadline of each call, seconds");

namespace r1serve::cli {

std::string Visible(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out;
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(absl::GetFlag(FLAGS_timeout_s) * 1000)));
}

int Fail(const std::string& what, const grpc::Status& status) {
  std::cerr << "r1serve-cli: " << what << " failed: " << status.error_message() << " (code "
            << status.error_code() << ")\n";
  return 1;
}

}  // namespace r1serve::cli
