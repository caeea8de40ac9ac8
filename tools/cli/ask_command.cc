#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "r1serve/v1/gateway.grpc.pb.h"
#include "tools/cli/cli_common.h"

namespace r1serve::cli {

int AskCommand(const std::shared_ptr<grpc::Channel>& channel, const std::string& message,
               absl::Duration wait) {
  auto stub = v1::Gateway::NewStub(channel);
  v1::ChatRequest request;
  request.set_request_id("r1serve-cli-ask");
  v1::ChatMessage* turn = request.add_messages();
  turn->set_role(v1::CHAT_ROLE_USER);
  turn->set_content(message);
  // DeepSeek's advice for R1; a short budget keeps the demo quick on a CPU.
  request.mutable_sampling()->set_temperature(0.6f);
  request.mutable_sampling()->set_top_p(0.95f);
  request.mutable_sampling()->set_max_tokens(64);
  request.mutable_sampling()->set_seed(1);

  // A suite that is still starting answers UNAVAILABLE (no healthy instance yet): retry then.
  const absl::Time give_up = absl::Now() + wait;
  for (;;) {
    grpc::ClientContext probe;
    SetDeadline(probe);
    v1::ChatRequest tiny = request;
    tiny.mutable_sampling()->set_max_tokens(1);
    auto probe_reader = stub->Chat(&probe, tiny);
    v1::ChatResponse ignored;
    while (probe_reader->Read(&ignored)) {
    }
    const grpc::Status probed = probe_reader->Finish();
    if (probed.error_code() != grpc::StatusCode::UNAVAILABLE || absl::Now() > give_up) break;
    absl::SleepFor(absl::Milliseconds(200));
  }

  grpc::ClientContext context;
  SetDeadline(context);
  std::unique_ptr<grpc::ClientReader<v1::ChatResponse>> reader = stub->Chat(&context, request);
  v1::ChatResponse response;
  enum class Part { kNone, kReasoning, kAnswer } part = Part::kNone;
  v1::Usage usage;
  v1::TimingBreakdown timing;
  v1::FinishReason finish = v1::FINISH_REASON_UNSPECIFIED;
  std::cout << "user:      " << message << "\n";
  while (reader->Read(&response)) {
    for (const v1::SampleDelta& delta : response.samples()) {
      if (!delta.reasoning_content().empty()) {
        if (part != Part::kReasoning) std::cout << "\nreasoning: ";
        part = Part::kReasoning;
        std::cout << delta.reasoning_content() << std::flush;
      }
      if (!delta.content().empty()) {
        if (part != Part::kAnswer) std::cout << "\nanswer:    ";
        part = Part::kAnswer;
        std::cout << delta.content() << std::flush;
      }
      if (delta.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) finish = delta.finish_reason();
    }
    if (response.has_usage()) usage = response.usage();
    if (response.has_timing()) timing = response.timing();
  }
  const grpc::Status status = reader->Finish();
  std::cout << "\n";
  if (!status.ok()) return Fail("Chat", status);
  std::cout << absl::StrCat("\nfinish: ", v1::FinishReason_Name(finish), "; tokens: prompt ",
                            usage.prompt_tokens(), ", completion ", usage.completion_tokens(),
                            " (reasoning ", usage.reasoning_tokens(), ")\n",
                            "timing (ms): tokenize ", timing.tokenize_us() / 1000.0, ", queue ",
                            timing.queue_us() / 1000.0, ", prefill ", timing.prefill_us() / 1000.0,
                            ", KV transfer ", timing.kv_transfer_us() / 1000.0,
                            ", first token ", timing.first_token_us() / 1000.0, ", decode ",
                            timing.decode_us() / 1000.0, ", total ", timing.total_us() / 1000.0,
                            "\n");
  return 0;
}

}  // namespace r1serve::cli
