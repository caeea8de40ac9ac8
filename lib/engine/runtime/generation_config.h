// What a model says about generating with it: a Hugging Face folder's generation_config.json
// (the sampling defaults its authors recommend and every token that ends a turn). The engine
// takes the result through EngineOptions (sampling_defaults, eos_token_ids).
//
//   ASSIGN_OR_RETURN(GenerationConfig generation, LoadGenerationConfig(*model));
//   EngineOptions options;
//   options.sampling_defaults = generation.defaults;
//   options.eos_token_ids = generation.eos_token_ids;
//
// Fields read: temperature, top_p, top_k, min_p, repetition_penalty (each only when present;
// do_sample false means greedy, temperature 0), eos_token_id (a number or a list). Absent file
// or GGUF model: SamplingDefaults{} (DeepSeek's advice for R1) and the config's eos token.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/format/model.h"
#include "lib/engine/sampler/sampling_params.h"

namespace r1serve::engine {

struct GenerationConfig {
  SamplingDefaults defaults;
  std::vector<int32_t> eos_token_ids;  // empty: let the engine use the model's and tokenizer's
};

// INVALID_ARGUMENT naming the file and field when generation_config.json exists but is not
// valid JSON or a field has the wrong type.
absl::StatusOr<GenerationConfig> LoadGenerationConfig(const Model& model);

}  // namespace r1serve::engine
