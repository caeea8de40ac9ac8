// Rollout (gateway.proto): for each prompt, G samples rendered with the R1 template, scored by
// the reward service, ranked by group-relative advantage, with optional rejection sampling
// (more rounds while too few samples pass). Groups run concurrently and are sent as they
// complete.
//
// Each round of a group is one GenerationPipeline run (routing, retries, detokenizing) under a
// CallScope of its own named "<request_id>/<prompt index>/<round>"; the reward call follows.
// The bookkeeping of rounds, acceptance and advantages is lib/rl's RolloutGroup.
//
//   RolloutRunner runner(deps, &reward, request_id, deadline);
//   grpc::Status status = runner.Run(request, [&](v1::RolloutResponse group) { return Send(group); });
//   runner.Cancel();  // from another thread: the client went away
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/call_scope.h"
#include "gateway/generation_pipeline.h"
#include "gateway/reward_client.h"
#include "r1serve/v1/gateway.pb.h"

namespace r1serve::gateway {

// Groups of one Rollout call generated at once.
inline constexpr int kMaxConcurrentRolloutGroups = 8;

class RolloutRunner {
 public:
  // `send` is called from the group threads, one finished group at a time; false means the
  // client is gone.
  using GroupSink = std::function<bool(v1::RolloutResponse)>;

  RolloutRunner(PipelineDeps deps, RewardClient* reward, std::string request_id,
                absl::Time deadline)
      : deps_(deps), reward_(reward), request_id_(std::move(request_id)), deadline_(deadline) {}

  // Blocks until every group is sent (OK), the deadline passes (DEADLINE_EXCEEDED, groups sent
  // stand), the call is cancelled, or the request is invalid (INVALID_ARGUMENT before any work).
  grpc::Status Run(const v1::RolloutRequest& request, const GroupSink& send);
  // Cancels every downstream call now and later. Thread-safe.
  void Cancel();

 private:
  struct Round;
  absl::Status Validate(const v1::RolloutRequest& request) const;
  // Generates, scores and ranks one prompt's group: its message (with an error when the group
  // failed on its own), or nullopt when the deadline or a cancel cut it short.
  std::optional<v1::RolloutResponse> RunGroup(const v1::RolloutRequest& request, int index);
  absl::Status GenerateRound(const v1::RolloutRequest& request, int index, int round,
                             const std::vector<int32_t>& prompt_ids, bool starts_in_reasoning,
                             Round& out);
  absl::Status ScoreRound(const v1::RolloutRequest& request, int index, bool starts_in_reasoning,
                          Round& round);
  // A scope for one downstream step, registered for Cancel(); nullptr once cancelled.
  CallScope* NewScope(const std::string& id);

  const PipelineDeps deps_;
  RewardClient* const reward_;
  const std::string request_id_;
  const absl::Time deadline_;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<CallScope>> scopes_ ABSL_GUARDED_BY(mu_);
};

// The R1 shape of a completion: reasoning before the last "</think>" (think markers removed),
// the answer after it; without "</think>", all reasoning when the prompt opened the block (or
// the text opens one), else all answer.
void SplitReasoning(const std::string& text, bool starts_in_reasoning, std::string* reasoning,
                    std::string* content);

}  // namespace r1serve::gateway
