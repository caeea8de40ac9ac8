// r1serve-decode: the decode service binary.
//
//   r1serve-decode --model=/models/DeepSeek-R1-Distill-Qwen-1.5B --role=decode --port=50071
//   r1serve-decode --model=... --role=both     # colocated: prefills itself, serves Prefill too
//
// Refuses to start (exit code 1, the reason on stderr) when the model cannot be loaded; health
// turns SERVING once the engine is up.
#include <cstdlib>
#include <iostream>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/server_options.h"
#include "lib/rpc/service_host.h"
#include "services/decode/decode_service.h"
#include "services/engine_common/engine_metrics.h"
#include "services/engine_common/served_engine.h"
#include "services/prefill/prefill_service.h"

ABSL_FLAG(std::string, role, "decode",
          "decode: pull every prompt's KV from a prefill instance; both: also prefill locally "
          "(colocated mode) and serve PrefillService");
ABSL_FLAG(double, prefill_queue_timeout_s, 30,
          "Longest wait in a prefill instance's queue before it answers RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_running_prefills, 8, "Role both: prompts prefilled for others at once.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("r1serve decode service: --model=PATH [--role=decode|both]");
  absl::ParseCommandLine(argc, argv);
  r1serve::rpc::InitLoggingFromFlags();
  absl::StatusOr<r1serve::rpc::ServerOptions> options = r1serve::rpc::ServerOptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "r1serve-decode: " << options.status().message() << "\n";
    return 2;
  }
  const std::string role_flag = absl::GetFlag(FLAGS_role);
  if (role_flag != "decode" && role_flag != "both") {
    std::cerr << "r1serve-decode: --role=" << role_flag << ": want decode or both\n";
    return 2;
  }
  const r1serve::v1::Role role =
      role_flag == "both" ? r1serve::v1::ROLE_BOTH : r1serve::v1::ROLE_DECODE;
  absl::StatusOr<r1serve::services::ServedEngine> served =
      r1serve::services::LoadServedEngineFromFlags();
  if (!served.ok()) {
    std::cerr << "r1serve-decode: cannot serve the model: " << served.status().message() << "\n";
    return 1;
  }
  r1serve::rpc::ServiceHost host("decode", *options);
  r1serve::services::EngineMetrics metrics(host.metrics_registry(), served->loop.get());
  r1serve::services::ServiceLoadCounters counters;
  r1serve::services::DecodeOptions decode_options;
  decode_options.role = role;
  decode_options.prefill_channel.max_message_bytes = options->max_message_bytes;
  decode_options.prefill_channel.auth_token = options->auth_token;
  decode_options.prefill_channel.stream_window_bytes = int64_t{16} << 20;  // KV is bulk
  decode_options.prefill_queue_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_prefill_queue_timeout_s));
  r1serve::services::DecodeService decode(&host, &*served, &metrics, &counters, decode_options);
  host.AddService(&decode);
  std::unique_ptr<r1serve::services::PrefillService> prefill;
  if (role == r1serve::v1::ROLE_BOTH) {
    prefill = std::make_unique<r1serve::services::PrefillService>(
        &host, &*served, &metrics, &counters, role,
        r1serve::services::PrefillLimits{.max_running = absl::GetFlag(FLAGS_max_running_prefills)});
    host.AddService(prefill.get());
  }
  if (absl::Status started = host.Start(); !started.ok()) {
    std::cerr << "r1serve-decode: " << started.message() << "\n";
    return 1;
  }
  if (served->instance_id.empty()) {
    served->instance_id = absl::StrCat(role_flag, ":", host.grpc_port());
  }
  R1_LOG(kInfo, "decode") << "serving " << served->model_name << " as " << role_flag << " ("
                          << served->info.architecture() << ", fingerprint "
                          << served->info.fingerprint().substr(0, 12) << ")";
  host.SetServing(true);
  host.ServeUntilSignal();
  served->loop->Shutdown();
  return EXIT_SUCCESS;
}
