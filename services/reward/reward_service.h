// The gRPC RewardService (proto/r1serve/v1/reward.proto) over lib/verify's RewardScorer:
// translates messages, checks request limits, runs items on a bounded worker pool and counts
// what it scores. All scoring logic lives in lib/verify.
//
//   RewardService service(&host, verify::RewardConfig{}, RewardServiceLimits{});
//   host.AddService(&service);
//
// Items of one call run in parallel; each has its own deadline (its timeout, bounded by the
// call's deadline) and its own error: one bad item never fails the call. The call fails only
// for a malformed request (INVALID_ARGUMENT: too many items, duplicate ids in Score) or when the
// pool cannot take its items (RESOURCE_EXHAUSTED).
#pragma once

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/rpc/service_host.h"
#include "lib/verify/reward_scorer.h"
#include "r1serve/v1/reward.grpc.pb.h"
#include "services/reward/item_workers.h"
#include "services/reward/reward_metrics.h"

namespace r1serve::services {

class ScoreStreamReactor;

struct RewardServiceLimits {
  uint32_t max_items_per_request = 1024;  // items in one ScoreRequest message
  int worker_threads = 0;                 // 0: one per hardware thread
  size_t max_pending_items = 8192;        // items queued or running, all calls together
  // Items one ScoreStream may have in flight before the server stops reading it (flow control);
  // one message more may be read, so the bound is this plus max_items_per_request.
  size_t stream_max_in_flight = 256;
  // A ScoreStream with nothing in flight or to write that sends nothing for this long is
  // cancelled, so that abandoned streams do not hold admission slots forever (a client can
  // vanish without the server hearing of it, e.g. a grpc-js cancel in the tick of its first
  // write).
  absl::Duration stream_idle_timeout = absl::Seconds(120);
};

class RewardService final : public v1::RewardService::CallbackService {
 public:
  RewardService(rpc::ServiceHost* host, verify::RewardConfig config, RewardServiceLimits limits);
  ~RewardService() override;

  grpc::ServerUnaryReactor* Score(grpc::CallbackServerContext* context,
                                  const v1::ScoreRequest* request,
                                  v1::ScoreResponse* response) override;
  grpc::ServerBidiReactor<v1::ScoreRequest, v1::ScoreResponse>* ScoreStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::RewardInfoRequest* request,
                                 v1::RewardInfoResponse* response) override;

  // Scores one item on the calling thread (a worker): translation, scoring, metrics.
  v1::RewardResult ScoreOne(const v1::RewardItem& item, absl::Time call_deadline);
  // The result for an item that is refused before scoring (duplicate id, pool full).
  v1::RewardResult RefusedResult(const std::string& id, absl::Status why);

  // Idle-stream bookkeeping: a ScoreStream registers once admitted and leaves in OnDone.
  void TrackStream(ScoreStreamReactor* stream);
  void UntrackStream(ScoreStreamReactor* stream);

  const RewardServiceLimits& limits() const { return limits_; }
  rpc::ServiceHost* host() { return host_; }
  ItemWorkers& workers() { return workers_; }

 private:
  // Cancels the streams idle past limits_.stream_idle_timeout, until the service goes away.
  void ReapIdleStreams();

  rpc::ServiceHost* const host_;
  const verify::RewardScorer scorer_;
  const RewardServiceLimits limits_;
  const std::vector<std::string> code_languages_;
  RewardMetrics metrics_;

  absl::Mutex streams_mu_;  // taken before a stream's own mutex, never after
  absl::flat_hash_set<ScoreStreamReactor*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool stopping_ ABSL_GUARDED_BY(streams_mu_) = false;
  std::thread reaper_;

  ItemWorkers workers_;  // last: joins before what its tasks use goes away
};

// The call's deadline as an absl::Time (InfiniteFuture when it has none).
absl::Time CallDeadline(const grpc::CallbackServerContext* context);

}  // namespace r1serve::services
