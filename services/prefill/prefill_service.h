// PrefillService (prefill.proto): computes a prompt's KV on the engine in export mode and streams
// it to the calling decode instance: KvHeader first, then each layer's KvChunks (CRC32C each) as
// soon as the engine has written that layer (transfer overlaps the compute of later layers and
// chunks), then the FirstToken once sampled, then a PrefillTrailer.
//
// Admission: at most `max_running` prompts are in the engine at once; later calls wait in a FIFO
// (queue_timeout_us bounds the wait: RESOURCE_EXHAUSTED, so decode can go elsewhere), at most
// `max_queued` of them (beyond that RESOURCE_EXHAUSTED at once). A cancelled call or a passed
// deadline leaves the queue or cancels the engine request, which frees its blocks.
//
// Served by r1serve-prefill, and by r1serve-decode in role both (sharing its engine).
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <condition_variable>

#include "lib/rpc/service_host.h"
#include "r1serve/v1/prefill.grpc.pb.h"
#include "services/engine_common/engine_metrics.h"
#include "services/engine_common/served_engine.h"

namespace r1serve::services {

struct PrefillLimits {
  int max_running = 8;     // prompts in the engine at once
  size_t max_queued = 256;  // calls waiting for a slot
};

class PrefillService final : public v1::PrefillService::CallbackService {
 public:
  // Everything passed must outlive the service.
  PrefillService(rpc::ServiceHost* host, ServedEngine* served, EngineMetrics* metrics,
                 ServiceLoadCounters* counters, v1::Role role, PrefillLimits limits);
  ~PrefillService() override;

  grpc::ServerWriteReactor<v1::PrefillResponse>* Prefill(
      grpc::CallbackServerContext* context, const v1::PrefillRequest* request) override;
  grpc::ServerUnaryReactor* Load(grpc::CallbackServerContext* context,
                                 const v1::LoadRequest* request,
                                 v1::LoadReport* response) override;

  struct Call;

 private:
  // Starts `call` in the engine now, or queues it. Called on gRPC threads.
  void Admit(std::shared_ptr<Call> call);
  void Start(const std::shared_ptr<Call>& call);
  // A running call left the engine: the next queued one may start.
  void Release();
  // Fails queued calls whose queue_timeout passed (a thread of its own, every 10 ms).
  void ExpireQueued();

  rpc::ServiceHost* const host_;
  ServedEngine* const served_;
  EngineMetrics* const metrics_;
  ServiceLoadCounters* const counters_;
  const v1::Role role_;
  const PrefillLimits limits_;

  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  int running_ = 0;
  std::deque<std::shared_ptr<Call>> queue_;
  std::thread expirer_;
};

}  // namespace r1serve::services
