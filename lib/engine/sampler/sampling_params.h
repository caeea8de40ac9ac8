// How the next token is chosen: the plain C++ form of r1serve.v1.SamplingParams (proto/r1serve/
// v1/common.proto is the contract; names, meanings and ranges are the same, and the service layer
// converts field by field), the model defaults that fill unset fields, and validation.
//
//   SamplingParams params;
//   params.top_k = 40;
//   params.stop = {"\n\n"};
//   RETURN_IF_ERROR(ValidateSamplingParams(params, limits));  // INVALID_ARGUMENT naming the field
//   SamplingParams resolved = ResolveSamplingParams(params, model_defaults);
//   // every optional sampling knob of `resolved` is now set
//
// Order in which the sampler applies them (the contract's, see SequenceSampler): the min_tokens /
// ignore_eos masks, repetition penalty, frequency and presence penalties, temperature, min_p,
// top_k, top_p, then a draw (or the argmax when temperature is 0).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace r1serve::engine {

// Which distribution returned logprobs describe (r1serve.v1.LogprobsMode).
enum class LogprobsMode {
  kUnspecified = 0,  // same as kRaw
  kRaw = 1,          // log_softmax of the model's logits, before masks, penalties and filters
  kProcessed = 2,    // log_softmax of what the token was drawn from (see SequenceSampler)
};

// Mirrors r1serve.v1.SamplingParams; `std::optional` where the proto field is `optional`.
struct SamplingParams {
  std::optional<float> temperature;         // [0, inf), 0 = greedy
  std::optional<float> top_p;               // (0, 1], 1 = off
  std::optional<int32_t> top_k;             // -1 or 0 = off, else >= 1
  std::optional<float> min_p;               // [0, 1], 0 = off
  float presence_penalty = 0;               // [-2, 2], over generated tokens
  float frequency_penalty = 0;              // [-2, 2], over generated tokens
  std::optional<float> repetition_penalty;  // (0, inf), 1 = off, over prompt + generated
  std::optional<uint64_t> seed;             // unset: a fresh random seed per sample
  std::vector<std::string> stop;            // non-empty strings
  std::vector<int32_t> stop_token_ids;      // in addition to the model's EOS tokens
  std::optional<uint32_t> max_tokens;       // >= 1; unset: until the context window is full
  uint32_t min_tokens = 0;                  // <= max_tokens
  uint32_t n = 0;                           // samples of the prompt; 0 means 1
  std::optional<uint32_t> logprobs;         // unset: none; 0: the token's; k: plus k alternatives
  bool ignore_eos = false;
  std::optional<bool> skip_special_tokens;  // unset: true
  LogprobsMode logprobs_mode = LogprobsMode::kUnspecified;
};

// What unset fields resolve to on a served model: its generation_config.json, else DeepSeek's
// advice for R1 (temperature 0.6, top_p 0.95) and the other knobs off. The model loader fills
// this; ModelInfo.default_sampling reports it.
struct SamplingDefaults {
  float temperature = 0.6f;
  float top_p = 0.95f;
  int32_t top_k = 0;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
};

// Server-side caps that validation enforces besides the contract's ranges.
struct SamplingLimits {
  // Rows of the model's logits: stop_token_ids must lie in [0, vocab_size). 0 skips the check.
  int32_t vocab_size = 0;
  // Most samples per prompt (SamplingParams.n).
  uint32_t max_n = 64;
  // Most stop strings, and most bytes in one (the matcher holds back at most that many bytes).
  size_t max_stop_strings = 16;
  size_t max_stop_string_bytes = 256;
  // Most stop_token_ids.
  size_t max_stop_token_ids = 64;
};

// Most alternatives SamplingParams.logprobs may ask for (the contract's [1, 20]).
inline constexpr uint32_t kMaxLogprobs = 20;

// OK, or INVALID_ARGUMENT whose message names the field, the rule and the value given, e.g.
// "top_p must be in (0, 1], got 0". Unset optional fields are valid (they take defaults).
absl::Status ValidateSamplingParams(const SamplingParams& params, const SamplingLimits& limits);

// `params` with every unset knob taken from `defaults`: temperature, top_p, top_k, min_p and
// repetition_penalty, skip_special_tokens (true), n (1) and logprobs_mode (kRaw). seed,
// max_tokens and logprobs stay unset when unset: there, unset has a meaning of its own.
SamplingParams ResolveSamplingParams(const SamplingParams& params,
                                     const SamplingDefaults& defaults);

}  // namespace r1serve::engine
