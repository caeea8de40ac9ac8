#include "services/reward/reward_proto.h"

#include <gtest/gtest.h>

#include <variant>

namespace r1serve::services {
namespace {

TEST(RewardProtoTest, ItemFieldsCarryOver) {
  v1::RewardItem item;
  item.set_id("a");
  item.set_prompt("p");
  item.set_response("r");
  item.set_starts_in_reasoning(true);
  item.set_timeout_us(1500);
  v1::RewardTask* task = item.mutable_task();
  task->set_task_type(v1::TASK_TYPE_COMPOSITE);
  task->set_reference_answer("42");
  task->set_target_language("zh");
  task->mutable_code()->set_language("cpp");
  task->mutable_code()->set_test_timeout_us(2000000);
  task->mutable_code()->set_memory_limit_bytes(1 << 20);
  task->mutable_code()->add_test_cases()->mutable_stdio()->set_stdin("1");
  v1::FunctionCallTest* call = task->mutable_code()->add_test_cases()->mutable_function_call();
  call->set_function_name("f");
  call->set_arguments_json("[1]");
  call->set_expected_return_json("2");
  v1::RewardComponentWeight* c = task->mutable_spec()->add_components();
  c->set_component(v1::REWARD_COMPONENT_LANGUAGE_CONSISTENCY);
  c->set_weight(-0.5);
  task->mutable_spec()->set_code_scoring(v1::CODE_SCORING_FRACTION_PASSED);

  absl::StatusOr<verify::RewardItem> out = RewardItemFromProto(item);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->id, "a");
  EXPECT_EQ(out->prompt, "p");
  EXPECT_EQ(out->response, "r");
  EXPECT_TRUE(out->starts_in_reasoning);
  EXPECT_EQ(out->timeout, absl::Microseconds(1500));
  EXPECT_EQ(out->task.type, verify::TaskType::kComposite);
  EXPECT_EQ(out->task.reference_answer, "42");
  EXPECT_EQ(out->task.target_language, "zh");
  EXPECT_EQ(out->task.code.language, "cpp");
  EXPECT_EQ(out->task.code.test_timeout, absl::Seconds(2));
  EXPECT_EQ(out->task.code.memory_limit_bytes, 1u << 20);
  ASSERT_EQ(out->task.code.tests.size(), 2u);
  EXPECT_EQ(std::get<verify::StdioCase>(out->task.code.tests[0]).stdin_data, "1");
  EXPECT_EQ(std::get<verify::FunctionCallCase>(out->task.code.tests[1]).expected_return_json, "2");
  ASSERT_EQ(out->task.spec.components.size(), 1u);
  EXPECT_EQ(out->task.spec.components[0].component, verify::RewardComponent::kLanguageConsistency);
  EXPECT_EQ(out->task.spec.components[0].weight, -0.5);
  EXPECT_EQ(out->task.spec.code_scoring, verify::CodeScoring::kFractionPassed);
}

TEST(RewardProtoTest, UnreadableItemsAreInvalidArgument) {
  v1::RewardItem item;
  item.mutable_task()->mutable_code()->add_test_cases();  // neither form set
  EXPECT_EQ(RewardItemFromProto(item).status().code(), absl::StatusCode::kInvalidArgument);
  v1::RewardItem scoring;
  scoring.mutable_task()->mutable_spec()->set_code_scoring(static_cast<v1::CodeScoring>(99));
  EXPECT_EQ(RewardItemFromProto(scoring).status().code(), absl::StatusCode::kInvalidArgument);
  // An unknown component number becomes unspecified, which the scorer rejects by index.
  v1::RewardItem component;
  component.mutable_task()->mutable_spec()->add_components()->set_component(
      static_cast<v1::RewardComponent>(77));
  ASSERT_TRUE(RewardItemFromProto(component).ok());
  EXPECT_EQ(RewardItemFromProto(component)->task.spec.components[0].component,
            verify::RewardComponent::kUnspecified);
}

TEST(RewardProtoTest, ResultFieldsCarryOver) {
  verify::RewardResult result;
  result.id = "x";
  result.total_reward = 0.75;
  result.components.push_back({verify::RewardComponent::kCodeTests, 1.0, 0.75, "1 of 4 failed"});
  result.verdict = verify::Verdict::kWrong;
  result.extracted_answer = "print(1)";
  result.verifier_version = "v";
  result.config_hash = "h";
  result.verify_time = absl::Milliseconds(3);
  v1::RewardResult out = RewardResultToProto(result);
  EXPECT_EQ(out.id(), "x");
  EXPECT_EQ(out.total_reward(), 0.75);
  ASSERT_EQ(out.components_size(), 1);
  EXPECT_EQ(out.components(0).component(), v1::REWARD_COMPONENT_CODE_TESTS);
  EXPECT_EQ(out.components(0).reason(), "1 of 4 failed");
  EXPECT_EQ(out.verdict(), v1::VERDICT_WRONG);
  EXPECT_EQ(out.extracted_answer(), "print(1)");
  EXPECT_FALSE(out.has_error());
  EXPECT_EQ(out.verify_us(), 3000);

  result.error = absl::InvalidArgumentError("bad");
  result.verdict = verify::Verdict::kError;
  out = RewardResultToProto(result);
  EXPECT_EQ(out.error().code(), 3);
  EXPECT_EQ(out.error().message(), "bad");
  EXPECT_EQ(out.verdict(), v1::VERDICT_ERROR);
}

}  // namespace
}  // namespace r1serve::services
