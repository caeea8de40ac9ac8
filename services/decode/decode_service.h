// DecodeService (decode.proto): generates the samples of a prompt and streams their tokens.
//
// With a prefill_endpoint, a call first reserves the KV blocks its prompt needs
// (KvReservations: it waits, in arrival order, while earlier pulls hold what is free), then
// pulls the prompt's KV from that prefill instance: a PrefillService.Prefill call (same
// request_id, the rest of this call's deadline) whose stream is checked and assembled by
// KvStreamReceiver (header compatibility, sequence numbers, CRC32C, completeness). Once the
// trailer has confirmed the stream, the first tokens go to the client (FirstToken comes last
// but one, so this costs the time to first token nothing, and a prefill failure before the end
// leaves the client without tokens: the gateway can retry), the KV is imported into the engine
// (Engine::ImportRequest), and the n samples fork over the shared prompt blocks and join the
// running batch. Without a prefill_endpoint (role both) the engine prefills itself.
//
// The Prefill call runs on a thread of its own for the few seconds of a transfer (a blocking
// reader is the simplest correct way to apply gRPC's flow control and to check each message in
// order; decode runs tens of concurrent transfers, not thousands). Cancelling the Generate call
// cancels the Prefill call and the engine request, which frees the blocks.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "lib/rpc/client_channel.h"
#include "lib/rpc/service_host.h"
#include "r1serve/v1/decode.grpc.pb.h"
#include "r1serve/v1/prefill.grpc.pb.h"
#include "services/decode/kv_reservations.h"
#include "services/engine_common/engine_metrics.h"
#include "services/engine_common/served_engine.h"

namespace r1serve::services {

struct DecodeOptions {
  v1::Role role = v1::ROLE_DECODE;      // ROLE_BOTH may prefill locally
  rpc::ChannelOptions prefill_channel;  // to prefill instances (message size, TLS, token)
  // Bounds the Prefill call's wait in prefill's queue (PrefillRequest.queue_timeout_us), so a
  // busy prefill instance fails fast and the gateway retries elsewhere; 0: no bound.
  absl::Duration prefill_queue_timeout = absl::Seconds(30);
  // Used when the Generate call has no deadline.
  absl::Duration default_deadline = absl::Minutes(30);
};

class DecodeService final : public v1::DecodeService::CallbackService {
 public:
  // Everything passed must outlive the service.
  DecodeService(rpc::ServiceHost* host, ServedEngine* served, EngineMetrics* metrics,
                ServiceLoadCounters* counters, DecodeOptions options);
  // Waits for the KV pulls still running (their calls have been cancelled by the drain).
  ~DecodeService() override;

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Load(grpc::CallbackServerContext* context,
                                 const v1::LoadRequest* request, v1::LoadReport* response) override;

  struct Call;

 private:
  absl::StatusOr<std::shared_ptr<grpc::Channel>> PrefillChannel(const std::string& endpoint);
  // Pulls the KV on the current thread, then imports it into the engine.
  void PullKv(std::shared_ptr<Call> call, std::shared_ptr<grpc::Channel> channel,
              absl::Time deadline);
  // Submits the call to the engine (local prefill, or the assembled import) with its sink.
  void Submit(const std::shared_ptr<Call>& call, std::optional<engine::KvSnapshot> import);
  // Ends the call with `status` (after the queued messages).
  void Fail(Call& call, const absl::Status& status);
  // Gives back the call's KV reservation (or its place in the queue), once.
  void ReleaseReservation(Call& call);
  // The reservation queue's length, for the load report (role both: prefill has its own).
  void PublishWaiting();

  rpc::ServiceHost* const host_;
  ServedEngine* const served_;
  EngineMetrics* const metrics_;
  ServiceLoadCounters* const counters_;
  const DecodeOptions options_;

  KvReservations reservations_;

  std::mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  int pulls_running_ = 0;
  std::condition_variable pulls_done_;
};

}  // namespace r1serve::services
