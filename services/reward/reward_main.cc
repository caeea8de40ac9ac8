// r1serve-reward: the reward service binary.
//
//   r1serve-reward --port=50054 --worker_threads=8 --default_item_timeout_s=30
//
// Scores responses with lib/verify (math answers, code tests in the sandbox, format, language
// consistency). Flags that change scores (code limits, format partial credit) go into the
// configuration hash every result carries.
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/server_options.h"
#include "lib/rpc/service_host.h"
#include "lib/verify/reward_config_flags.h"
#include "lib/verify/verifier_version.h"
#include "services/reward/reward_service.h"

ABSL_FLAG(int32_t, worker_threads, 0, "threads that verify items; 0 = one per CPU");
ABSL_FLAG(int64_t, max_pending_items, 8192,
          "items queued or running, all calls together; a call that does not fit gets "
          "RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_items_per_request, 1024, "most items in one ScoreRequest message");
ABSL_FLAG(int64_t, stream_max_in_flight, 256,
          "items one ScoreStream may have in flight before the server stops reading it");
ABSL_FLAG(double, stream_idle_timeout_s, 120,
          "cancel a ScoreStream with nothing in flight that sends nothing for this long");
ABSL_FLAG(double, default_item_timeout_s, 30,
          "per-item verification timeout when an item sets none (bounded by the call deadline)");

namespace {

// A flag combination that cannot work, or "" when they are fine.
std::string BadFlags() {
  if (absl::GetFlag(FLAGS_max_items_per_request) < 1) return "--max_items_per_request must be >= 1";
  if (absl::GetFlag(FLAGS_max_pending_items) < absl::GetFlag(FLAGS_max_items_per_request)) {
    return "--max_pending_items must be >= --max_items_per_request";
  }
  if (absl::GetFlag(FLAGS_stream_max_in_flight) < 1) return "--stream_max_in_flight must be >= 1";
  if (!(absl::GetFlag(FLAGS_stream_idle_timeout_s) > 0)) {
    return "--stream_idle_timeout_s must be > 0";
  }
  if (!(absl::GetFlag(FLAGS_default_item_timeout_s) > 0)) {
    return "--default_item_timeout_s must be > 0";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("r1serve reward service: [--port=N] [--worker_threads=N] ...");
  absl::ParseCommandLine(argc, argv);
  r1serve::rpc::InitLoggingFromFlags();
  absl::StatusOr<r1serve::rpc::ServerOptions> options = r1serve::rpc::ServerOptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "r1serve-reward: " << options.status().message() << "\n";
    return 2;
  }
  if (std::string bad = BadFlags(); !bad.empty()) {
    std::cerr << "r1serve-reward: " << bad << "\n";
    return 2;
  }
  // --code_test_timeout_s, --code_memory_limit_mb, --format_partial_credit: shared with
  // r1serve-score (reward_config_flags.h).
  absl::StatusOr<r1serve::verify::RewardConfig> config = r1serve::verify::RewardConfigFromFlags(
      absl::Seconds(absl::GetFlag(FLAGS_default_item_timeout_s)));
  if (!config.ok()) {
    std::cerr << "r1serve-reward: " << config.status().message() << "\n";
    return 2;
  }
  r1serve::services::RewardServiceLimits limits{
      .max_items_per_request = static_cast<uint32_t>(absl::GetFlag(FLAGS_max_items_per_request)),
      .worker_threads = absl::GetFlag(FLAGS_worker_threads),
      .max_pending_items = static_cast<size_t>(absl::GetFlag(FLAGS_max_pending_items)),
      .stream_max_in_flight = static_cast<size_t>(absl::GetFlag(FLAGS_stream_max_in_flight)),
      .stream_idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_stream_idle_timeout_s))};

  r1serve::rpc::ServiceHost host("reward", *options);
  r1serve::services::RewardService service(&host, *config, limits);
  host.AddService(&service);
  if (absl::Status started = host.Start(); !started.ok()) {
    std::cerr << "r1serve-reward: " << started.message() << "\n";
    return 1;
  }
  const std::vector<std::string> languages = r1serve::verify::SupportedCodeLanguages();
  R1_LOG(kInfo, "reward") << r1serve::verify::kVerifierVersion << ", config "
                          << r1serve::verify::ConfigHash(*config) << ", code languages: "
                          << (languages.empty() ? "none (sandbox unavailable)"
                                                : absl::StrJoin(languages, ", "));
  host.SetServing(true);
  host.ServeUntilSignal();
  return EXIT_SUCCESS;
}
