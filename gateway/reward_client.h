// The gateway's client of the reward service (RewardService.Score), for Rollout.
//
//   RewardClient reward(channel);
//   absl::StatusOr<v1::ScoreResponse> scores = reward.Score(scope, request);
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "gateway/call_scope.h"
#include "r1serve/v1/reward.grpc.pb.h"

namespace r1serve::gateway {

class RewardClient {
 public:
  explicit RewardClient(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::RewardService::NewStub(channel)) {}

  // One Score call under the scope's deadline; errors name the reward service.
  absl::StatusOr<v1::ScoreResponse> Score(CallScope& scope, const v1::ScoreRequest& request);

 private:
  std::unique_ptr<v1::RewardService::Stub> stub_;
};

}  // namespace r1serve::gateway
