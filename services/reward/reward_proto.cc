#include "services/reward/reward_proto.h"

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace r1serve::services {
namespace {

using verify::RewardComponent;
using verify::TaskType;
using verify::Verdict;

TaskType TaskTypeFromProto(v1::TaskType type) {
  switch (type) {
    case v1::TASK_TYPE_MATH:
      return TaskType::kMath;
    case v1::TASK_TYPE_FORMAT:
      return TaskType::kFormat;
    case v1::TASK_TYPE_LANGUAGE:
      return TaskType::kLanguage;
    case v1::TASK_TYPE_CODE:
      return TaskType::kCode;
    case v1::TASK_TYPE_COMPOSITE:
      return TaskType::kComposite;
    default:  // unspecified, or a number this build does not know
      return TaskType::kUnspecified;
  }
}

// Unknown numbers become kUnspecified, which the scorer rejects with the component's index.
RewardComponent ComponentFromProto(v1::RewardComponent component) {
  switch (component) {
    case v1::REWARD_COMPONENT_MATH_ANSWER:
      return RewardComponent::kMathAnswer;
    case v1::REWARD_COMPONENT_CODE_TESTS:
      return RewardComponent::kCodeTests;
    case v1::REWARD_COMPONENT_FORMAT:
      return RewardComponent::kFormat;
    case v1::REWARD_COMPONENT_LANGUAGE_CONSISTENCY:
      return RewardComponent::kLanguageConsistency;
    default:
      return RewardComponent::kUnspecified;
  }
}

v1::RewardComponent ComponentToProto(RewardComponent component) {
  switch (component) {
    case RewardComponent::kMathAnswer:
      return v1::REWARD_COMPONENT_MATH_ANSWER;
    case RewardComponent::kCodeTests:
      return v1::REWARD_COMPONENT_CODE_TESTS;
    case RewardComponent::kFormat:
      return v1::REWARD_COMPONENT_FORMAT;
    case RewardComponent::kLanguageConsistency:
      return v1::REWARD_COMPONENT_LANGUAGE_CONSISTENCY;
    case RewardComponent::kUnspecified:
      break;
  }
  return v1::REWARD_COMPONENT_UNSPECIFIED;
}

v1::Verdict VerdictToProto(Verdict verdict) {
  switch (verdict) {
    case Verdict::kCorrect:
      return v1::VERDICT_CORRECT;
    case Verdict::kWrong:
      return v1::VERDICT_WRONG;
    case Verdict::kNoAnswer:
      return v1::VERDICT_NO_ANSWER;
    case Verdict::kUnparseableReference:
      return v1::VERDICT_UNPARSEABLE_REFERENCE;
    case Verdict::kTimeout:
      return v1::VERDICT_TIMEOUT;
    case Verdict::kError:
      return v1::VERDICT_ERROR;
    case Verdict::kUnspecified:
      break;
  }
  return v1::VERDICT_UNSPECIFIED;
}

absl::StatusOr<verify::CodeScoring> ScoringFromProto(v1::CodeScoring scoring) {
  switch (scoring) {
    case v1::CODE_SCORING_UNSPECIFIED:
    case v1::CODE_SCORING_ALL_OR_NOTHING:
      return verify::CodeScoring::kAllOrNothing;
    case v1::CODE_SCORING_FRACTION_PASSED:
      return verify::CodeScoring::kFractionPassed;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown spec.code_scoring ", static_cast<int>(scoring)));
  }
}

absl::StatusOr<verify::CodeTestCase> TestFromProto(const v1::CodeTestCase& test, int index) {
  switch (test.test_case()) {
    case v1::CodeTestCase::kStdio:
      return verify::StdioCase{.stdin_data = test.stdio().stdin(),
                               .expected_stdout = test.stdio().expected_stdout()};
    case v1::CodeTestCase::kFunctionCall:
      return verify::FunctionCallCase{
          .function_name = test.function_call().function_name(),
          .arguments_json = test.function_call().arguments_json(),
          .expected_return_json = test.function_call().expected_return_json()};
    case v1::CodeTestCase::TEST_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("code test ", index + 1, " sets neither stdio nor function_call"));
}

}  // namespace

v1::TaskType TaskTypeToProto(TaskType type) {
  switch (type) {
    case TaskType::kMath:
      return v1::TASK_TYPE_MATH;
    case TaskType::kFormat:
      return v1::TASK_TYPE_FORMAT;
    case TaskType::kLanguage:
      return v1::TASK_TYPE_LANGUAGE;
    case TaskType::kCode:
      return v1::TASK_TYPE_CODE;
    case TaskType::kComposite:
      return v1::TASK_TYPE_COMPOSITE;
    case TaskType::kUnspecified:
      break;
  }
  return v1::TASK_TYPE_UNSPECIFIED;
}

absl::StatusOr<verify::RewardItem> RewardItemFromProto(const v1::RewardItem& item) {
  verify::RewardItem out;
  out.id = item.id();
  out.prompt = item.prompt();
  out.response = item.response();
  out.starts_in_reasoning = item.starts_in_reasoning();
  out.timeout = absl::Microseconds(item.timeout_us());
  const v1::RewardTask& task = item.task();
  out.task.type = TaskTypeFromProto(task.task_type());
  out.task.reference_answer = task.reference_answer();
  out.task.target_language = task.target_language();
  out.task.code.language = task.code().language();
  out.task.code.test_timeout = absl::Microseconds(task.code().test_timeout_us());
  out.task.code.memory_limit_bytes = task.code().memory_limit_bytes();
  for (int i = 0; i < task.code().test_cases_size(); ++i) {
    ASSIGN_OR_RETURN(verify::CodeTestCase test, TestFromProto(task.code().test_cases(i), i));
    out.task.code.tests.push_back(std::move(test));
  }
  for (const v1::RewardComponentWeight& entry : task.spec().components()) {
    out.task.spec.components.push_back(
        {.component = ComponentFromProto(entry.component()), .weight = entry.weight()});
  }
  ASSIGN_OR_RETURN(out.task.spec.code_scoring, ScoringFromProto(task.spec().code_scoring()));
  return out;
}

v1::RewardResult RewardResultToProto(const verify::RewardResult& result) {
  v1::RewardResult out;
  out.set_id(result.id);
  out.set_total_reward(result.total_reward);
  for (const verify::ComponentResult& component : result.components) {
    v1::ComponentResult* c = out.add_components();
    c->set_component(ComponentToProto(component.component));
    c->set_weight(component.weight);
    c->set_reward(component.reward);
    c->set_reason(component.reason);
  }
  out.set_verdict(VerdictToProto(result.verdict));
  out.set_extracted_answer(result.extracted_answer);
  if (!result.error.ok()) {
    out.mutable_error()->set_code(static_cast<int32_t>(result.error.code()));
    out.mutable_error()->set_message(std::string(result.error.message()));
  }
  out.set_verifier_version(result.verifier_version);
  out.set_config_hash(result.config_hash);
  out.set_verify_us(absl::ToInt64Microseconds(result.verify_time));
  return out;
}

}  // namespace r1serve::services
