// ServedEngine: the model and engine a prefill or decode process serves, loaded from the
// command-line flags both binaries share (--model, --model_name, --threads, KV cache size,
// batching limits), with what their RPCs report about it (ModelInfo, LoadReport).
//
//   absl::StatusOr<ServedEngine> served = LoadServedEngineFromFlags();
//   if (!served.ok()) { /* print served.status(), exit 1 */ }
//   served->loop->Submit(prompt, params, {}, sink);
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/engine/format/model.h"
#include "grpcpp/support/server_callback.h"
#include "lib/engine/runtime/engine_loop.h"
#include "lib/rpc/service_host.h"
#include "r1serve/v1/common.pb.h"

namespace r1serve::services {

struct ServedEngine {
  std::string model_name;   // what requests put in `model`
  std::string instance_id;  // --instance_id, else host name and port (set by the binary)
  std::shared_ptr<const engine::Model> model;
  std::unique_ptr<engine::EngineLoop> loop;
  v1::ModelInfo info;
};

// Loads --model (a Hugging Face folder or a GGUF file) with its tokenizer and generation config
// and starts the engine loop. The errors name the flag or the file.
absl::StatusOr<ServedEngine> LoadServedEngineFromFlags();

// NOT_FOUND naming what is served when `requested` is neither empty nor the served name.
absl::Status CheckModelName(const ServedEngine& served, const std::string& requested);

// Counts a service keeps besides the engine's own load.
struct ServiceLoadCounters {
  std::atomic<uint32_t> queued_requests{0};  // prefill: calls waiting for an engine slot
  std::atomic<uint32_t> waiting_for_kv{0};   // decode: calls waiting for a KV reservation
  std::atomic<uint64_t> queued_prompt_tokens{0};
  std::atomic<uint32_t> active_kv_transfers{0};
  std::atomic<bool> draining{false};
};

v1::LoadReport BuildLoadReport(const ServedEngine& served, v1::Role role,
                               const ServiceLoadCounters& counters,
                               const v1::LoadRequest& request);

// The Load RPC of the prefill and decode services: admission, then the report.
grpc::ServerUnaryReactor* AnswerLoad(rpc::ServiceHost& host, grpc::CallbackServerContext* context,
                                     const ServedEngine& served, v1::Role role,
                                     const ServiceLoadCounters& counters,
                                     const v1::LoadRequest& request, v1::LoadReport* response);

}  // namespace r1serve::services
