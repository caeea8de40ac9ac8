#include "lib/engine/sampler/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace r1serve::engine {
namespace {

template <typename... Parts>
absl::Status Invalid(const Parts&... parts) {
  return absl::InvalidArgumentError(absl::StrCat(parts...));
}

// Range checks are written so that NaN fails them (every comparison with NaN is false).
absl::Status CheckClosed(const char* name, float v, float lo, float hi) {
  if (v >= lo && v <= hi) return absl::OkStatus();
  return Invalid(name, " must be in [", lo, ", ", hi, "], got ", v);
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& params, const SamplingLimits& limits) {
  if (params.temperature.has_value()) {
    const float t = *params.temperature;
    if (!(t >= 0) || !std::isfinite(t)) {
      return Invalid("temperature must be a finite number >= 0 (0 means greedy), got ", t);
    }
  }
  if (params.top_p.has_value()) {
    const float p = *params.top_p;
    if (!(p > 0 && p <= 1)) return Invalid("top_p must be in (0, 1] (1 turns it off), got ", p);
  }
  if (params.top_k.has_value() && *params.top_k < -1) {
    return Invalid("top_k must be -1 or 0 (both turn it off) or >= 1, got ", *params.top_k);
  }
  if (params.min_p.has_value()) {
    RETURN_IF_ERROR(CheckClosed("min_p", *params.min_p, 0, 1));
  }
  RETURN_IF_ERROR(CheckClosed("presence_penalty", params.presence_penalty, -2, 2));
  RETURN_IF_ERROR(CheckClosed("frequency_penalty", params.frequency_penalty, -2, 2));
  if (params.repetition_penalty.has_value()) {
    const float r = *params.repetition_penalty;
    if (!(r > 0) || !std::isfinite(r)) {
      return Invalid("repetition_penalty must be a finite number > 0 (1 turns it off), got ", r);
    }
  }

  if (params.stop.size() > limits.max_stop_strings) {
    return Invalid("stop has ", params.stop.size(), " strings; at most ", limits.max_stop_strings,
                   " are allowed");
  }
  for (size_t i = 0; i < params.stop.size(); ++i) {
    if (params.stop[i].empty()) return Invalid("stop[", i, "] is empty; stop strings must not be");
    if (params.stop[i].size() > limits.max_stop_string_bytes) {
      return Invalid("stop[", i, "] is ", params.stop[i].size(), " bytes long; at most ",
                     limits.max_stop_string_bytes, " are allowed");
    }
  }
  if (params.stop_token_ids.size() > limits.max_stop_token_ids) {
    return Invalid("stop_token_ids has ", params.stop_token_ids.size(), " ids; at most ",
                   limits.max_stop_token_ids, " are allowed");
  }
  for (size_t i = 0; i < params.stop_token_ids.size(); ++i) {
    const int32_t id = params.stop_token_ids[i];
    if (id < 0 || (limits.vocab_size > 0 && id >= limits.vocab_size)) {
      return Invalid("stop_token_ids[", i, "] = ", id, " is not a token id of this model",
                     limits.vocab_size > 0
                         ? absl::StrCat(" (ids are in [0, ", limits.vocab_size, "))")
                         : std::string());
    }
  }

  if (params.max_tokens.has_value()) {
    if (*params.max_tokens < 1) return Invalid("max_tokens must be >= 1 when set, got 0");
    if (params.min_tokens > *params.max_tokens) {
      return Invalid("min_tokens (", params.min_tokens, ") must be <= max_tokens (",
                     *params.max_tokens, ")");
    }
  }
  if (params.n > limits.max_n) {
    return Invalid("n = ", params.n, " is above this server's limit of ", limits.max_n,
                   " samples per prompt");
  }
  if (params.logprobs.has_value() && *params.logprobs > kMaxLogprobs) {
    return Invalid("logprobs must be in [0, ", kMaxLogprobs, "], got ", *params.logprobs);
  }
  switch (params.logprobs_mode) {
    case LogprobsMode::kUnspecified:
    case LogprobsMode::kRaw:
    case LogprobsMode::kProcessed:
      break;
    default:
      return Invalid("logprobs_mode ", static_cast<int>(params.logprobs_mode),
                     " is not a LogprobsMode");
  }
  return absl::OkStatus();
}

SamplingParams ResolveSamplingParams(const SamplingParams& params,
                                     const SamplingDefaults& defaults) {
  SamplingParams resolved = params;
  if (!resolved.temperature) resolved.temperature = defaults.temperature;
  if (!resolved.top_p) resolved.top_p = defaults.top_p;
  if (!resolved.top_k) resolved.top_k = defaults.top_k;
  if (!resolved.min_p) resolved.min_p = defaults.min_p;
  if (!resolved.repetition_penalty) resolved.repetition_penalty = defaults.repetition_penalty;
  if (!resolved.skip_special_tokens) resolved.skip_special_tokens = true;
  if (resolved.n == 0) resolved.n = 1;
  if (resolved.logprobs_mode == LogprobsMode::kUnspecified) {
    resolved.logprobs_mode = LogprobsMode::kRaw;
  }
  return resolved;
}

}  // namespace r1serve::engine
