// What the r1serve-cli commands share: flags, deadlines, error reporting.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(double, timeout_s);

namespace r1serve::cli {

// Shows a string with its control characters visible (the prompt ends in "<think>\n").
std::string Visible(const std::string& text);
// Sets the call deadline from --timeout_s.
void SetDeadline(grpc::ClientContext& context);
// Prints "r1serve-cli: WHAT failed: MESSAGE (code N)" and returns 1.
int Fail(const std::string& what, const grpc::Status& status);

// `template`: the tokenizer service's view of a chat message (template, ids, decode, stream).
int TemplateCommand(const std::shared_ptr<grpc::Channel>& tokenizer, const std::string& message);
// `ask`: one chat message through the gateway, reasoning and answer streamed as they come.
// While the gateway answers UNAVAILABLE (still starting), retries for up to `wait`.
int AskCommand(const std::shared_ptr<grpc::Channel>& gateway, const std::string& message,
               absl::Duration wait);
// `rollout`: one GRPO group of a math problem through the gateway's Rollout, with each sample's
// reward, its components and its advantage.
int RolloutCommand(const std::shared_ptr<grpc::Channel>& gateway, const std::string& problem,
                   const std::string& reference, int group_size);

}  // namespace r1serve::cli
