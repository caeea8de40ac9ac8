// Which components score an item: the default spec of each task type, and the checks that turn
// a caller's spec into the effective one (the spec every result reports and hashes).
//
//   absl::StatusOr<RewardSpec> spec = EffectiveSpec(item.task);  // INVALID_ARGUMENT if malformed
//
// Defaults (reward.proto, TaskType): math -> MATH_ANSWER 1, format -> FORMAT 1, language ->
// LANGUAGE_CONSISTENCY 1, code -> CODE_TESTS 1; composite and unspecified have none, so their
// spec must name the components. A named spec is used as given, whatever the task type: each
// component at most once, none unspecified, every weight finite.
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "lib/verify/reward_types.h"

namespace r1serve::verify {

// The default spec of `type`; nullopt for composite and unspecified.
std::optional<RewardSpec> DefaultSpec(TaskType type);

absl::StatusOr<RewardSpec> EffectiveSpec(const RewardTask& task);

// Whether the component decides the verdict (MATH_ANSWER, CODE_TESTS).
bool IsCorrectnessComponent(RewardComponent component);

}  // namespace r1serve::verify
