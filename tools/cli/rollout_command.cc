#include <iostream>
#include <string>

#include "absl/strings/str_format.h"
#include "r1serve/v1/gateway.grpc.pb.h"
#include "tools/cli/cli_common.h"

namespace r1serve::cli {
namespace {

// "REWARD_COMPONENT_MATH_ANSWER" -> "math_answer".
std::string ComponentName(v1::RewardComponent component) {
  std::string name = v1::RewardComponent_Name(component);
  const std::string prefix = "REWARD_COMPONENT_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// The first line of a text, at most `n` bytes, for a one-line preview.
std::string Preview(const std::string& text, size_t n) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > n ? line.substr(0, n) + "..." : line;
}

}  // namespace

int RolloutCommand(const std::shared_ptr<grpc::Channel>& channel, const std::string& problem,
                   const std::string& reference, int group_size) {
  auto stub = v1::Gateway::NewStub(channel);
  v1::RolloutRequest request;
  request.set_request_id("r1serve-cli-rollout");
  request.set_group_size(static_cast<uint32_t>(group_size));
  request.set_advantage_mode(v1::ADVANTAGE_MODE_GRPO_VERL);
  v1::SamplingParams* sampling = request.mutable_sampling();
  sampling->set_temperature(0.6f);
  sampling->set_top_p(0.95f);
  sampling->set_max_tokens(48);
  sampling->set_seed(7);
  v1::RolloutPrompt* prompt = request.add_prompts();
  prompt->set_id("math500");
  v1::ChatMessage* turn = prompt->add_messages();
  turn->set_role(v1::CHAT_ROLE_USER);
  turn->set_content(problem);
  v1::RewardTask* task = prompt->mutable_task();
  task->set_task_type(v1::TASK_TYPE_COMPOSITE);
  task->set_reference_answer(reference);
  task->set_target_language("en");
  // R1's rewards: accuracy first, then the shape of the output, then language consistency.
  for (const auto& [component, weight] :
       {std::pair{v1::REWARD_COMPONENT_MATH_ANSWER, 1.0}, {v1::REWARD_COMPONENT_FORMAT, 0.2},
        {v1::REWARD_COMPONENT_LANGUAGE_CONSISTENCY, 0.1}}) {
    v1::RewardComponentWeight* c = task->mutable_spec()->add_components();
    c->set_component(component);
    c->set_weight(weight);
  }

  grpc::ClientContext context;
  SetDeadline(context);
  std::unique_ptr<grpc::ClientReader<v1::RolloutResponse>> reader = stub->Rollout(&context, request);
  v1::RolloutResponse group;
  std::cout << "rollout: G = " << group_size << " samples of \"" << Preview(problem, 60)
            << "\" (reference " << reference << "), reward = 1.0 math + 0.2 format + 0.1 language\n";
  while (reader->Read(&group)) {
    if (group.has_error()) {
      std::cout << "  group failed: " << group.error().message() << "\n";
      continue;
    }
    for (const v1::RolloutSample& s : group.samples()) {
      std::cout << absl::StrFormat("  sample %d: reward %.3f  advantage %+.3f  (%s)\n", s.index(),
                                   s.reward().total_reward(), s.advantage(),
                                   v1::Verdict_Name(s.reward().verdict()));
      for (const v1::ComponentResult& c : s.reward().components()) {
        std::cout << absl::StrFormat("      %-22s %.3f  %s\n", ComponentName(c.component()),
                                     c.reward(), Preview(c.reason(), 90));
      }
    }
    const v1::GroupStats& stats = group.stats();
    std::cout << absl::StrFormat(
        "  group: mean %.3f, std %.3f%s; %d completion tokens (%d reasoning); reward %.1f ms, "
        "total %.1f ms\n",
        stats.reward_mean(), stats.reward_std(), stats.zero_variance() ? " (zero variance)" : "",
        group.usage().completion_tokens(), group.usage().reasoning_tokens(),
        group.timing().reward_us() / 1000.0, group.timing().total_us() / 1000.0);
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return Fail("Rollout", status);
  return 0;
}

}  // namespace r1serve::cli
