// The gRPC Gateway service (proto/r1serve/v1/gateway.proto): Generate and Chat stream through a
// GenerationPipeline; Rollout runs a RolloutRunner (rollout.h) on a thread of its own.
//
// Threads: the server side uses the callback API (an rpc::QueuedWriteReactor per call, writes
// queued; a Generate or Chat thread waits only once 64 messages are queued for a slow client). Each
// admitted call runs its pipeline on a thread of its own that makes blocking downstream calls
// (tokenizer, decode, one Detokenize stream per sample). A request is a strict sequence (template
// -> tokenize -> route -> generate -> detokenize each token in order -> retry before the first
// token), which reads straight as blocking code and would be a tangle of chained reactors as async
// client code; the threads are bounded by --max_in_flight_requests, and a thread per stream is
// cheap next to the model work behind it. Client cancellation and deadlines still reach every
// downstream call at once (CallScope).
//
//   GatewayService service(&host, deps, GatewayOptions{.max_in_flight_requests = 256});
//   host.AddService(&service);
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/generation_pipeline.h"
#include "lib/rpc/service_host.h"
#include "r1serve/v1/gateway.grpc.pb.h"

namespace r1serve::gateway {

struct GatewayOptions {
  int max_in_flight_requests = 256;                     // beyond: RESOURCE_EXHAUSTED at once
  absl::Duration request_timeout = absl::Seconds(600);  // deadline of calls that set none
};

class GatewayService final : public v1::Gateway::CallbackService {
 public:
  GatewayService(rpc::ServiceHost* host, PipelineDeps deps, GatewayOptions options);
  // Waits for the request threads (the host has cancelled their calls by then).
  ~GatewayService() override;

  grpc::ServerWriteReactor<v1::GatewayGenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GatewayGenerateRequest* request) override;
  grpc::ServerWriteReactor<v1::ChatResponse>* Chat(grpc::CallbackServerContext* context,
                                                   const v1::ChatRequest* request) override;
  grpc::ServerWriteReactor<v1::RolloutResponse>* Rollout(
      grpc::CallbackServerContext* context, const v1::RolloutRequest* request) override;

 private:
  // Generate and Chat: a bounded write queue fed by the pipeline, which runs on a thread of its
  // own; `run` executes it (GenerationPipeline::RunGenerate or RunChat) and `method` names the
  // call in the latency metric.
  template <typename Response, typename Request, typename Run>
  grpc::ServerWriteReactor<Response>* StartGeneration(grpc::CallbackServerContext* context,
                                                      const Request& request, const char* method,
                                                      Run run);

  // Admission and the in-flight limit; OK or the status to finish with.
  grpc::Status Admit(grpc::CallbackServerContext* context);
  void RequestDone();
  std::string NewRequestId();
  absl::Time Deadline(const grpc::CallbackServerContext* context) const;

  rpc::ServiceHost* const host_;
  const PipelineDeps deps_;
  const GatewayOptions options_;
  std::atomic<uint64_t> next_id_{0};

  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace r1serve::gateway
