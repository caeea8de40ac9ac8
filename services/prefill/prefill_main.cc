// r1serve-prefill: the prefill service binary (role prefill).
//
//   r1serve-prefill --model=/models/DeepSeek-R1-Distill-Qwen-1.5B --port=50061
//
// Refuses to start (exit code 1, the reason on stderr) when the model cannot be loaded; health
// turns SERVING once the engine is up.
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/server_options.h"
#include "lib/rpc/service_host.h"
#include "services/engine_common/engine_metrics.h"
#include "services/engine_common/served_engine.h"
#include "services/prefill/prefill_service.h"

ABSL_FLAG(int, max_running_prefills, 8, "Prompts in the engine at once; more calls queue.");
ABSL_FLAG(int, max_queued_prefills, 256,
          "Calls waiting for a prefill slot before new ones get RESOURCE_EXHAUSTED.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("r1serve prefill service: --model=PATH [--port=N]");
  absl::ParseCommandLine(argc, argv);
  r1serve::rpc::InitLoggingFromFlags();
  absl::StatusOr<r1serve::rpc::ServerOptions> options = r1serve::rpc::ServerOptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "r1serve-prefill: " << options.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<r1serve::services::ServedEngine> served =
      r1serve::services::LoadServedEngineFromFlags();
  if (!served.ok()) {
    std::cerr << "r1serve-prefill: cannot serve the model: " << served.status().message() << "\n";
    return 1;
  }
  r1serve::rpc::ServiceHost host("prefill", *options);
  r1serve::services::EngineMetrics metrics(host.metrics_registry(), served->loop.get());
  r1serve::services::ServiceLoadCounters counters;
  r1serve::services::PrefillService service(
      &host, &*served, &metrics, &counters, r1serve::v1::ROLE_PREFILL,
      {.max_running = absl::GetFlag(FLAGS_max_running_prefills),
       .max_queued = static_cast<size_t>(absl::GetFlag(FLAGS_max_queued_prefills))});
  host.AddService(&service);
  if (absl::Status started = host.Start(); !started.ok()) {
    std::cerr << "r1serve-prefill: " << started.message() << "\n";
    return 1;
  }
  if (served->instance_id.empty()) {
    served->instance_id = absl::StrCat("prefill:", host.grpc_port());
  }
  R1_LOG(kInfo, "prefill") << "serving " << served->model_name << " ("
                           << served->info.architecture() << ", fingerprint "
                           << served->info.fingerprint().substr(0, 12) << ")";
  host.SetServing(true);
  host.ServeUntilSignal();
  served->loop->Shutdown();
  return EXIT_SUCCESS;
}
