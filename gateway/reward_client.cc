#include "gateway/reward_client.h"

#include "absl/strings/str_cat.h"
#include "lib/rpc/status_conversion.h"

namespace r1serve::gateway {

absl::StatusOr<v1::ScoreResponse> RewardClient::Score(CallScope& scope,
                                                      const v1::ScoreRequest& request) {
  grpc::ClientContext* context = scope.NewContext();
  if (context == nullptr) return absl::CancelledError("the rollout was cancelled");
  v1::ScoreResponse response;
  const grpc::Status status = stub_->Score(context, request, &response);
  if (!status.ok()) {
    const absl::Status s = rpc::ToAbslStatus(status);
    return absl::Status(s.code(), absl::StrCat("reward service: ", s.message()));
  }
  if (response.results_size() != request.items_size()) {
    return absl::InternalError(absl::StrCat("reward service: ", response.results_size(),
                                            " results for ", request.items_size(), " items"));
  }
  return response;
}

}  // namespace r1serve::gateway
