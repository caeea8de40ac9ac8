// Translations between the wire messages of common.proto / prefill.proto / decode.proto and the
// engine's own types, shared by the prefill and decode services (and nothing else clever).
//
//   ASSIGN_OR_RETURN(engine::SamplingParams params, SamplingFromProto(request.sampling()));
//   *delta.add_logprobs() = TokenLogprobToProto(event.token_id, event.logprob, event.top_logprobs);
#pragma once

#include <optional>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/engine/runtime/kv_snapshot.h"
#include "lib/engine/sampler/finish_reason.h"
#include "lib/engine/sampler/sampling_params.h"
#include "lib/engine/sampler/sequence_sampler.h"
#include "r1serve/v1/common.pb.h"

namespace r1serve::services {

// Field by field (the names are vLLM's on both sides). INVALID_ARGUMENT for an unknown
// logprobs_mode; range checks are the engine's (ValidateRequest names the field).
absl::StatusOr<engine::SamplingParams> SamplingFromProto(const v1::SamplingParams& proto);
v1::SamplingParams SamplingToProto(const engine::SamplingParams& params);

v1::FinishReason FinishReasonToProto(engine::FinishReason reason);

// A token with its logprob and alternatives (fields left unset when `logprob` is unset).
v1::TokenLogprob TokenLogprobToProto(int32_t token_id, std::optional<float> logprob,
                                     std::span<const engine::TokenLogprob> top);
engine::SampledToken SampledTokenFromProto(const v1::TokenLogprob& proto);

// The KV cache geometry of an engine, as KvHeader and KvCacheSpec say it.
v1::KvCacheSpec KvCacheSpecFromHeader(const engine::KvHeader& header);
// OK when `theirs` equals the cache `ours` describes; else FAILED_PRECONDITION naming the first
// field that differs, ours vs theirs.
absl::Status CheckKvCacheSpec(const engine::KvHeader& ours, const v1::KvCacheSpec& theirs);

}  // namespace r1serve::services
