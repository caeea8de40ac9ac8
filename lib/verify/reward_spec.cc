#include "lib/verify/reward_spec.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace r1serve::verify {

std::optional<RewardSpec> DefaultSpec(TaskType type) {
  auto only = [](RewardComponent component) {
    return RewardSpec{.components = {{component, 1.0}}};
  };
  switch (type) {
    case TaskType::kMath:
      return only(RewardComponent::kMathAnswer);
    case TaskType::kFormat:
      return only(RewardComponent::kFormat);
    case TaskType::kLanguage:
      return only(RewardComponent::kLanguageConsistency);
    case TaskType::kCode:
      return only(RewardComponent::kCodeTests);
    case TaskType::kComposite:
    case TaskType::kUnspecified:
      break;
  }
  return std::nullopt;
}

absl::StatusOr<RewardSpec> EffectiveSpec(const RewardTask& task) {
  if (task.spec.components.empty()) {
    std::optional<RewardSpec> spec = DefaultSpec(task.type);
    if (!spec) {
      return absl::InvalidArgumentError(
          absl::StrCat("task type ", TaskTypeName(task.type),
                       " has no default reward spec: name the components in task.spec"));
    }
    spec->code_scoring = task.spec.code_scoring;
    return *spec;
  }
  for (size_t i = 0; i < task.spec.components.size(); ++i) {
    const ComponentWeight& entry = task.spec.components[i];
    if (entry.component == RewardComponent::kUnspecified) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec component ", i, " is unspecified (or unknown)"));
    }
    if (!std::isfinite(entry.weight)) {
      return absl::InvalidArgumentError(absl::StrCat("spec component ", i, " (",
                                                     ComponentName(entry.component),
                                                     ") has a weight that is not finite"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (task.spec.components[j].component == entry.component) {
        return absl::InvalidArgumentError(absl::StrCat("spec names ",
                                                       ComponentName(entry.component),
                                                       " twice (components ", j, " and ", i, ")"));
      }
    }
  }
  return task.spec;
}

bool IsCorrectnessComponent(RewardComponent component) {
  return component == RewardComponent::kMathAnswer || component == RewardComponent::kCodeTests;
}

}  // namespace r1serve::verify
