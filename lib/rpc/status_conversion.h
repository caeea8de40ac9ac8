// The one place where absl::Status (inside r1serve) and grpc::Status (on the wire) meet.
// Both use the canonical gRPC code numbers, so the code maps one to one; the message is kept.
// Error details (grpc binary details, absl payloads) are not carried across.
//
//   grpc::Status Generate(...) {
//     absl::StatusOr<Tokens> tokens = tokenizer.Encode(text);
//     if (!tokens.ok()) return ToGrpcStatus(tokens.status());
//     ...
//   }
//   absl::Status s = ToAbslStatus(stub->Prefill(&context, request, &reply));
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace r1serve::rpc {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status ToAbslStatus(const grpc::Status& status);

}  // namespace r1serve::rpc
