// r1serve-cli: a command-line client of the running suite.
//
//   r1serve-cli --target=127.0.0.1:50051 chat "What is 7 * 6?"
//
// `chat` sends one user message to the tokenizer service and shows what the suite does with it
// before generation: the prompt rendered with the model's chat template, its token ids and count,
// the text decoded back from those ids, and the ids streamed back through Detokenize one at a
// time (whole characters only, reasoning split from the answer).
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/rpc/client_channel.h"
#include "r1serve/v1/tokenizer.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "address of the tokenizer service");
ABSL_FLAG(std::string, auth_token, "", "bearer token, when the service requires one");
ABSL_FLAG(double, timeout_s, 30, "deadline of each call, seconds");

namespace {

using r1serve::v1::TokenizerService;

// Shows a string with its control characters visible (the prompt ends in "<think>\n").
std::string Visible(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else
      out += c;
  }
  return out;
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(absl::GetFlag(FLAGS_timeout_s) * 1000)));
}

int Fail(const std::string& what, const grpc::Status& status) {
  std::cerr << "r1serve-cli: " << what << " failed: " << status.error_message() << " (code "
            << status.error_code() << ")\n";
  return 1;
}

int Chat(TokenizerService::Stub& stub, const std::string& message) {
  r1serve::v1::ApplyChatTemplateRequest request;
  auto* turn = request.add_messages();
  turn->set_role(r1serve::v1::CHAT_ROLE_USER);
  turn->set_content(message);
  request.set_add_generation_prompt(true);
  request.set_tokenize(true);
  r1serve::v1::ApplyChatTemplateResponse chat;
  {
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = stub.ApplyChatTemplate(&context, request, &chat);
    if (!status.ok()) return Fail("ApplyChatTemplate", status);
  }
  std::cout << "chat template family: " << r1serve::v1::ChatFamily_Name(chat.family()) << "\n"
            << "prompt:       \"" << Visible(chat.prompt()) << "\"\n"
            << "token count:  " << chat.token_ids_size() << "\n"
            << "token ids:    [" << absl::StrJoin(chat.token_ids(), ", ") << "]\n";

  r1serve::v1::TokenizerDecodeRequest decode;
  decode.mutable_token_ids()->CopyFrom(chat.token_ids());
  r1serve::v1::TokenizerDecodeResponse decoded;
  {
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = stub.Decode(&context, decode, &decoded);
    if (!status.ok()) return Fail("Decode", status);
  }
  std::cout << "decoded:      \"" << Visible(decoded.text()) << "\""
            << (decoded.text() == chat.prompt() ? "  (round trip exact)" : "  (DIFFERS)") << "\n";

  // Stream the prompt's own ids back as if they were generated, one per message.
  grpc::ClientContext context;
  SetDeadline(context);
  auto stream = stub.Detokenize(&context);
  std::vector<std::string> deltas;
  r1serve::v1::DetokenizeResponse response;
  for (int i = 0; i < chat.token_ids_size(); ++i) {
    r1serve::v1::DetokenizeRequest piece;
    piece.add_token_ids(chat.token_ids(i));
    if (!stream->Write(piece) || !stream->Read(&response)) break;
    deltas.push_back(response.content_delta());
  }
  stream->WritesDone();
  while (stream->Read(&response)) deltas.push_back(response.content_delta());
  grpc::Status status = stream->Finish();
  if (!status.ok()) return Fail("Detokenize", status);
  std::cout << "streamed:     ";
  for (const std::string& delta : deltas) std::cout << "[" << Visible(delta) << "]";
  std::cout << "\n";
  return absl::StrJoin(deltas, "") == decoded.text() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("r1serve-cli [--target=HOST:PORT] chat \"message\"");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 3 || std::string(args[1]) != "chat") {
    std::cerr << "usage: r1serve-cli [--target=HOST:PORT] chat \"message\"\n";
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
  auto stub = TokenizerService::NewStub(*channel);
  return Chat(*stub, args[2]);
}
