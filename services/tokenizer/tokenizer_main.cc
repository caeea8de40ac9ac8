// r1serve-tokenizer: the tokenizer service binary.
//
//   r1serve-tokenizer --tokenizer=/models/DeepSeek-R1-Distill-Qwen-7B --port=50051
//
// Refuses to start (exit code 1, the reason on stderr) when the tokenizer files are missing or
// malformed; health turns SERVING once the tokenizer is loaded.
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/server_options.h"
#include "lib/rpc/service_host.h"
#include "services/tokenizer/tokenizer_service.h"

ABSL_FLAG(std::string, tokenizer, "",
          "tokenizer.json, or a model folder holding tokenizer.json (required)");
ABSL_FLAG(std::string, tokenizer_config, "",
          "tokenizer_config.json (default: the one beside tokenizer.json, if any)");
ABSL_FLAG(std::string, model_name, "default", "the name requests use for this tokenizer");
ABSL_FLAG(int64_t, max_text_bytes, int64_t{8} << 20, "largest text accepted in one request");
ABSL_FLAG(int64_t, max_batch_items, 4096, "most texts or sequences in one batch request");
ABSL_FLAG(int64_t, max_token_ids, int64_t{1} << 22, "most token ids in one Decode(Batch) request");
ABSL_FLAG(int64_t, max_stream_message_ids, 65536, "most token ids in one Detokenize message");
ABSL_FLAG(double, stream_idle_timeout_s, 120,
          "cancel a Detokenize stream that sends nothing for this long");
ABSL_FLAG(int32_t, worker_threads, 0, "threads for tokenizer work; 0 = one per CPU");
ABSL_FLAG(int64_t, max_queued_requests, 256,
          "requests waiting for a worker before new ones get RESOURCE_EXHAUSTED");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("r1serve tokenizer service: --tokenizer=PATH [--port=N]");
  absl::ParseCommandLine(argc, argv);
  r1serve::rpc::InitLoggingFromFlags();
  absl::StatusOr<r1serve::rpc::ServerOptions> options = r1serve::rpc::ServerOptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "r1serve-tokenizer: " << options.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_tokenizer).empty()) {
    std::cerr << "r1serve-tokenizer: --tokenizer is required (tokenizer.json or its folder)\n";
    return 2;
  }
  absl::StatusOr<r1serve::services::ServedTokenizer> served =
      r1serve::services::LoadServedTokenizer(absl::GetFlag(FLAGS_model_name),
                                             absl::GetFlag(FLAGS_tokenizer),
                                             absl::GetFlag(FLAGS_tokenizer_config));
  if (!served.ok()) {
    std::cerr << "r1serve-tokenizer: cannot load the tokenizer: " << served.status().message()
              << "\n";
    return 1;
  }
  R1_LOG(kInfo, "tokenizer") << "loaded " << absl::GetFlag(FLAGS_tokenizer) << " (vocab "
                             << served->tokenizer->VocabSize() << ", chat family "
                             << r1serve::text::ChatFamilyName(
                                    served->tokenizer->Config().chat_family)
                             << ")";

  r1serve::rpc::ServiceHost host("tokenizer", *options);
  r1serve::services::TokenizerLimits limits{
      .max_text_bytes = absl::GetFlag(FLAGS_max_text_bytes),
      .max_batch_items = absl::GetFlag(FLAGS_max_batch_items),
      .max_token_ids = absl::GetFlag(FLAGS_max_token_ids),
      .max_stream_message_ids = absl::GetFlag(FLAGS_max_stream_message_ids),
      // Leave room for the message framing under the server's own limit.
      .max_response_bytes = options->max_message_bytes - (int64_t{1} << 16),
      .stream_idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_stream_idle_timeout_s)),
      .worker_threads = absl::GetFlag(FLAGS_worker_threads),
      .max_queued_requests = static_cast<size_t>(absl::GetFlag(FLAGS_max_queued_requests))};
  r1serve::services::TokenizerService service(&host, std::move(*served), limits);
  host.AddService(&service);
  if (absl::Status started = host.Start(); !started.ok()) {
    std::cerr << "r1serve-tokenizer: " << started.message() << "\n";
    return 1;
  }
  host.SetServing(true);
  host.ServeUntilSignal();
  return EXIT_SUCCESS;
}
