// r1serve-cli: a command-line client of the running suite.
//
//   r1serve-cli --target=127.0.0.1:50050 ask "What is 7 * 6?"       # through the gateway
//   r1serve-cli --target=127.0.0.1:50051 template "What is 7 * 6?"  # the tokenizer service
//   r1serve-cli --target=127.0.0.1:50050 --reference=9 rollout "How many divisors has 196?"
//
// `ask` sends one user message to the gateway's Chat and prints the reasoning and the answer as
// they stream, then usage and the timing breakdown. `template` shows what the tokenizer service
// does with a message before generation: the prompt rendered with the model's chat template,
// its token ids and count, the text decoded back, and the ids streamed back through Detokenize.
// `rollout` runs one GRPO group (--group_size samples) of a math problem through the gateway's
// Rollout and prints each sample's reward, its components and its advantage.
// --wait_s waits that long for the target's health to turn SERVING first.
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "lib/rpc/client_channel.h"
#include "tools/cli/cli_common.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50050", "address of the service");
ABSL_FLAG(std::string, auth_token, "", "bearer token, when the service requires one");
ABSL_FLAG(std::string, reference, "", "rollout: the problem's reference answer");
ABSL_FLAG(int, group_size, 4, "rollout: samples in the group (G)");
ABSL_FLAG(double, wait_s, 0,
          "first wait up to this long for the target to be reachable (ask: and to have "
          "healthy instances)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "r1serve-cli [--target=HOST:PORT] (ask | template | rollout) \"message\"");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string command = args.size() == 3 ? args[1] : "";
  if (command != "ask" && command != "template" && command != "rollout") {
    std::cerr << "usage: r1serve-cli [--target=HOST:PORT] (ask | template | rollout) \"message\"\n";
    return 2;
  }
  r1serve::rpc::ChannelOptions options;
  options.auth_token = absl::GetFlag(FLAGS_auth_token);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      r1serve::rpc::CreateChannel(absl::GetFlag(FLAGS_target), options);
  if (!channel.ok()) {
    std::cerr << "r1serve-cli: " << channel.status().message() << "\n";
    return 1;
  }
  if (absl::GetFlag(FLAGS_wait_s) > 0) {
    absl::Status ready =
        r1serve::rpc::WaitForChannelReady(**channel, absl::Seconds(absl::GetFlag(FLAGS_wait_s)));
    if (!ready.ok()) {
      std::cerr << "r1serve-cli: " << ready.message() << "\n";
      return 1;
    }
  }
  if (command == "ask") {
    return r1serve::cli::AskCommand(*channel, args[2], absl::Seconds(absl::GetFlag(FLAGS_wait_s)));
  }
  if (command == "rollout") {
    return r1serve::cli::RolloutCommand(*channel, args[2], absl::GetFlag(FLAGS_reference),
                                        absl::GetFlag(FLAGS_group_size));
  }
  return r1serve::cli::TemplateCommand(*channel, args[2]);
}
