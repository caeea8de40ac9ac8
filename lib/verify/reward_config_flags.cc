#include "lib/verify/reward_config_flags.h"

#include <cstdint>

#include "absl/flags/flag.h"
#include "absl/status/status.h"

ABSL_FLAG(double, code_test_timeout_s,
          absl::ToDoubleSeconds(r1serve::verify::CodeLimits().test_timeout),
          "wall-clock limit per code test when an item sets none");
ABSL_FLAG(int64_t, code_memory_limit_mb,
          static_cast<int64_t>(r1serve::verify::CodeLimits().memory_bytes >> 20),
          "memory limit of a program when an item sets none");
ABSL_FLAG(bool, format_partial_credit, false,
          "FORMAT pays 1/3 per passing check instead of all or nothing");

namespace r1serve::verify {

absl::StatusOr<RewardConfig> RewardConfigFromFlags(absl::Duration default_item_timeout) {
  if (!(absl::GetFlag(FLAGS_code_test_timeout_s) > 0)) {
    return absl::InvalidArgumentError("--code_test_timeout_s must be > 0");
  }
  if (absl::GetFlag(FLAGS_code_memory_limit_mb) < 1) {
    return absl::InvalidArgumentError("--code_memory_limit_mb must be >= 1");
  }
  RewardConfig config;
  config.default_item_timeout = default_item_timeout;
  config.code_limits.test_timeout = absl::Seconds(absl::GetFlag(FLAGS_code_test_timeout_s));
  config.code_limits.memory_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_code_memory_limit_mb))
                                    << 20;
  config.format.partial_credit = absl::GetFlag(FLAGS_format_partial_credit);
  return config;
}

}  // namespace r1serve::verify
