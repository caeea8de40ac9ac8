#include "lib/verify/reward_scorer.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/verify/code_component.h"
#include "lib/verify/component_outcome.h"
#include "lib/verify/format_verifier.h"
#include "lib/verify/language_consistency.h"
#include "lib/verify/math/math_verifier.h"
#include "lib/verify/response_shape.h"
#include "lib/verify/reward_spec.h"
#include "lib/verify/verifier_version.h"

namespace r1serve::verify {
namespace {

// What checking the item found and the components need.
struct PreparedItem {
  RewardSpec spec;
  std::optional<ScriptSet> target_scripts;  // with a LANGUAGE_CONSISTENCY component
  CodeLimits code_limits;                   // with a CODE_TESTS component
};

bool HasComponent(const RewardSpec& spec, RewardComponent component) {
  return std::any_of(spec.components.begin(), spec.components.end(),
                     [&](const ComponentWeight& c) { return c.component == component; });
}

absl::StatusOr<PreparedItem> Prepare(const RewardItem& item, const RewardConfig& config) {
  if (item.timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout is negative");
  }
  PreparedItem prepared;
  ASSIGN_OR_RETURN(prepared.spec, EffectiveSpec(item.task));
  if (HasComponent(prepared.spec, RewardComponent::kMathAnswer) &&
      absl::StripAsciiWhitespace(absl::string_view(item.task.reference_answer)).empty()) {
    return absl::InvalidArgumentError("a MATH_ANSWER item needs task.reference_answer");
  }
  if (HasComponent(prepared.spec, RewardComponent::kCodeTests)) {
    const CodeTask& code = item.task.code;
    RETURN_IF_ERROR(ValidateCodeTask(code));
    if (code.test_timeout < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("code test timeout is negative");
    }
    prepared.code_limits = config.code_limits;
    if (code.test_timeout > absl::ZeroDuration())
      prepared.code_limits.test_timeout = code.test_timeout;
    if (code.memory_limit_bytes > 0) prepared.code_limits.memory_bytes = code.memory_limit_bytes;
    prepared.code_limits.cpu_time = prepared.code_limits.test_timeout;
  }
  if (HasComponent(prepared.spec, RewardComponent::kLanguageConsistency)) {
    ASSIGN_OR_RETURN(prepared.target_scripts,
                     TargetScripts(item.task.target_language, item.prompt));
  }
  return prepared;
}

Verdict FromMath(MathStatus status) {
  switch (status) {
    case MathStatus::kCorrect:
      return Verdict::kCorrect;
    case MathStatus::kWrong:
      return Verdict::kWrong;
    case MathStatus::kNoAnswer:
      return Verdict::kNoAnswer;
    case MathStatus::kUnparseableReference:
      return Verdict::kUnparseableReference;
    case MathStatus::kTimeout:
      return Verdict::kTimeout;
  }
  return Verdict::kError;
}

ComponentOutcome ScoreMath(const RewardItem& item, const RewardConfig& config,
                           absl::Time deadline) {
  MathVerdict math =
      VerifyMathAnswer(item.response, item.task.reference_answer, deadline, config.math);
  ComponentOutcome out;
  out.verdict = FromMath(math.status);
  out.reward = math.status == MathStatus::kCorrect ? 1.0 : 0.0;
  out.extracted_answer = std::move(math.extracted_answer);
  out.reason = std::move(math.reason);
  if (math.status == MathStatus::kTimeout) out.reason = absl::StrCat("timed out: ", out.reason);
  return out;
}

ComponentOutcome ScoreComponent(RewardComponent component, const RewardItem& item,
                                const PreparedItem& prepared, const ResponseShape& shape,
                                const RewardConfig& config, absl::Time deadline) {
  switch (component) {
    case RewardComponent::kMathAnswer:
      return ScoreMath(item, config, deadline);
    case RewardComponent::kCodeTests:
      return ScoreCodeTests(shape.answer, item.task.code, prepared.spec.code_scoring,
                            prepared.code_limits, deadline);
    case RewardComponent::kFormat: {
      FormatVerdict format = VerifyFormat(item.response, item.starts_in_reasoning, config.format);
      ComponentOutcome out;
      out.reward = format.reward;
      out.reason = std::move(format.reason);
      return out;
    }
    case RewardComponent::kLanguageConsistency: {
      LanguageVerdict language =
          VerifyLanguageConsistency(shape.reasoning, *prepared.target_scripts);
      ComponentOutcome out;
      out.reward = language.reward;
      out.reason = std::move(language.reason);
      return out;
    }
    case RewardComponent::kUnspecified:
      break;
  }
  // EffectiveSpec rejects unspecified components, so this is a bug, reported on the item.
  ComponentOutcome out;
  out.verdict = Verdict::kError;
  out.error = absl::InternalError("unspecified component in an effective spec");
  return out;
}

}  // namespace

RewardScorer::RewardScorer(RewardConfig config)
    : config_(std::move(config)),
      config_hash_(ConfigHash(config_)),
      config_json_text_(ConfigJsonText(config_)) {}

RewardResult RewardScorer::ErrorResult(std::string id, absl::Status error) const {
  RewardResult result;
  result.id = std::move(id);
  result.verdict = Verdict::kError;
  result.error = std::move(error);
  result.verifier_version = std::string(kVerifierVersion);
  result.config_hash = config_hash_;
  return result;
}

RewardResult RewardScorer::Score(const RewardItem& item, absl::Time call_deadline) const {
  const absl::Time start = absl::Now();
  RewardResult result;
  result.id = item.id;
  result.verifier_version = std::string(kVerifierVersion);
  result.config_hash = config_hash_;
  const absl::Duration timeout =
      item.timeout > absl::ZeroDuration() ? item.timeout : config_.default_item_timeout;
  const absl::Time deadline = std::min(start + timeout, call_deadline);
  absl::Status status;
  try {
    status = ScoreInto(item, deadline, result);
  } catch (const std::exception& e) {
    // Untrusted input must never take the process down; the item reports the failure.
    status = absl::InternalError(absl::StrCat("verifier failed: ", e.what()));
  }
  if (!status.ok()) {
    std::optional<SandboxOutcome> sandbox = result.sandbox_outcome;
    std::string hash = std::move(result.config_hash);
    result = ErrorResult(item.id, std::move(status));
    result.config_hash = std::move(hash);
    result.sandbox_outcome = sandbox;
  }
  result.verify_time = absl::Now() - start;
  return result;
}

absl::Status RewardScorer::ScoreInto(const RewardItem& item, absl::Time deadline,
                                     RewardResult& result) const {
  ASSIGN_OR_RETURN(PreparedItem prepared, Prepare(item, config_));
  result.config_hash = ScoreConfigHash(config_json_text_, prepared.spec);
  const ResponseShape shape = ParseResponseShape(item.response, item.starts_in_reasoning);
  bool verdict_taken = false;
  bool timed_out = false;
  for (const ComponentWeight& entry : prepared.spec.components) {
    ComponentOutcome out;
    if (absl::Now() >= deadline) {
      out.verdict = Verdict::kTimeout;
      out.reason = "not run: the item's timeout had passed";
    } else {
      out = ScoreComponent(entry.component, item, prepared, shape, config_, deadline);
    }
    if (out.sandbox) result.sandbox_outcome = out.sandbox;
    RETURN_IF_ERROR(out.error);
    timed_out = timed_out || out.verdict == Verdict::kTimeout;
    if (!verdict_taken && IsCorrectnessComponent(entry.component)) {
      verdict_taken = true;
      result.verdict = out.verdict;
      result.extracted_answer = std::move(out.extracted_answer);
    }
    // Only a finished check pays: a timed-out one reports 0 whatever it had found.
    const double reward = out.verdict == Verdict::kTimeout ? 0.0 : std::clamp(out.reward, 0.0, 1.0);
    result.total_reward += entry.weight * reward;
    result.components.push_back({.component = entry.component,
                                 .weight = entry.weight,
                                 .reward = reward,
                                 .reason = std::move(out.reason)});
  }
  if (timed_out) result.verdict = Verdict::kTimeout;
  return absl::OkStatus();
}

}  // namespace r1serve::verify
