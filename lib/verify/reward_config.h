// The scorer's configuration (what a reward server's flags set) and the hashes that make scores
// reproducible: equal versions and equal hashes mean equal scores for equal items.
//
//   RewardConfig config{.default_item_timeout = absl::Seconds(10)};
//   std::string server_hash = ConfigHash(config);          // RewardInfoResponse.config_hash
//   std::string result_hash = ScoreConfigHash(config, spec);  // RewardResult.config_hash
//
// Hashed: the verifier version and everything here that can change a reward (the math caps, the
// code limits, format partial credit), and for a result the effective spec. Not hashed:
// the default item timeout, since running past it is reported as a TIMEOUT verdict rather than a
// different reward.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/verify/format_verifier.h"
#include "lib/verify/math/math_verifier_options.h"
#include "lib/verify/reward_types.h"
#include "lib/verify/sandbox/code_runner.h"

namespace r1serve::verify {

struct RewardConfig {
  // Per item, when the item sets no timeout.
  absl::Duration default_item_timeout = absl::Seconds(30);
  // Sandbox limits of code tests. A task's own test timeout and memory limit replace
  // test_timeout and memory_bytes; cpu_time always follows the effective test timeout.
  CodeLimits code_limits;
  MathVerifierOptions math;
  FormatOptions format;
};

// Lowercase hex SHA-256 of the configuration alone.
std::string ConfigHash(const RewardConfig& config);

// Lowercase hex SHA-256 of the configuration and an effective spec.
std::string ScoreConfigHash(const RewardConfig& config, const RewardSpec& spec);

// The same hash from the configuration's canonical JSON text (ConfigJsonText), for a scorer
// that hashes every item against one configuration: the configuration is serialised once.
std::string ConfigJsonText(const RewardConfig& config);
std::string ScoreConfigHash(absl::string_view config_json_text, const RewardSpec& spec);

}  // namespace r1serve::verify
