// The reward configuration's command-line flags, defined once for the two programs that score
// (r1serve-reward and r1serve-score), so that the same flags give the same scores and the same
// configuration hash in both.
//
//   --code_test_timeout_s (5)     wall-clock limit per code test when an item sets none
//   --code_memory_limit_mb (512)  memory limit of a program when an item sets none
//   --format_partial_credit       FORMAT pays 1/3 per passing check instead of all or nothing
//
//   ASSIGN_OR_RETURN(RewardConfig config, RewardConfigFromFlags(absl::Seconds(30)));
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/verify/reward_config.h"

namespace r1serve::verify {

// The configuration the flags above describe, with `default_item_timeout` (each program has its
// own flag for it); INVALID_ARGUMENT naming the flag when a value cannot work.
absl::StatusOr<RewardConfig> RewardConfigFromFlags(absl::Duration default_item_timeout);

}  // namespace r1serve::verify
