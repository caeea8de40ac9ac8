#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "r1serve/v1/tokenizer.grpc.pb.h"
#include "tools/cli/cli_common.h"

namespace r1serve::cli {

int TemplateCommand(const std::shared_ptr<grpc::Channel>& channel, const std::string& message) {
  auto stub_holder = v1::TokenizerService::NewStub(channel);
  v1::TokenizerService::Stub& stub = *stub_holder;
  v1::ApplyChatTemplateRequest request;
  auto* turn = request.add_messages();
  turn->set_role(v1::CHAT_ROLE_USER);
  turn->set_content(message);
  request.set_add_generation_prompt(true);
  request.set_tokenize(true);
  v1::ApplyChatTemplateResponse chat;
  {
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = stub.ApplyChatTemplate(&context, request, &chat);
    if (!status.ok()) return Fail("ApplyChatTemplate", status);
  }
  std::cout << "chat template family: " << v1::ChatFamily_Name(chat.family()) << "\n"
            << "prompt:       \"" << Visible(chat.prompt()) << "\"\n"
            << "token count:  " << chat.token_ids_size() << "\n"
            << "token ids:    [" << absl::StrJoin(chat.token_ids(), ", ") << "]\n";

  v1::TokenizerDecodeRequest decode;
  decode.mutable_token_ids()->CopyFrom(chat.token_ids());
  v1::TokenizerDecodeResponse decoded;
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
  v1::DetokenizeResponse response;
  for (int i = 0; i < chat.token_ids_size(); ++i) {
    v1::DetokenizeRequest piece;
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


}  // namespace r1serve::cli
