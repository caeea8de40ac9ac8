// Translation between reward.proto messages and lib/verify's reward model, field for field: the
// service decides nothing here. A message that cannot be expressed in lib terms (a test case
// with neither form set, an unknown scoring enum) is INVALID_ARGUMENT for that item alone.
//
//   absl::StatusOr<verify::RewardItem> item = RewardItemFromProto(proto_item);
//   v1::RewardResult out = RewardResultToProto(scorer.Score(*item));
#pragma once

#include "absl/status/statusor.h"
#include "lib/verify/reward_types.h"
#include "r1serve/v1/reward.pb.h"

namespace r1serve::services {

absl::StatusOr<verify::RewardItem> RewardItemFromProto(const v1::RewardItem& item);

v1::RewardResult RewardResultToProto(const verify::RewardResult& result);

v1::TaskType TaskTypeToProto(verify::TaskType type);

}  // namespace r1serve::services
