// SequenceSampler: chooses the next token of one sample from its logits row, keeps what the
// sample's penalties and stop rules need (token counts, how many tokens it has generated, its
// random key), and says when the sample ends on a token. SampleBatch does it for a whole batch.
//
//   SequenceSamplerOptions options{.vocab_size = 151936, .eos_token_ids = {151643}};
//   ASSIGN_OR_RETURN(SequenceSampler sampler,
//                    SequenceSampler::Create(params, prompt_tokens, options));
//   SamplingWorkspace workspace;                      // one per thread, reused across steps
//   for (;;) {
//     std::span<float> row = ...;                     // [vocab_size] logits of the next position
//     ASSIGN_OR_RETURN(SampledToken token, sampler.Sample(row, workspace));
//     ASSIGN_OR_RETURN(FinishReason why, sampler.Append(token.token_id));
//     Emit(token);
//     if (why != FinishReason::kNone) break;
//   }
//
// What Sample does, in the contract's order (proto/r1serve/v1/common.proto, SamplingParams):
//  1. masks: while fewer than min_tokens tokens have been generated, EOS (unless ignore_eos) and
//     stop_token_ids get -inf. ignore_eos masks nothing: an EOS token then simply does not end
//     the sample.
//  2. repetition_penalty r over every distinct token of prompt and output: x > 0 becomes x / r,
//     else x * r (HF/vLLM).
//  3. frequency and presence penalties over output tokens only (OpenAI): x - f * count - p.
//  4. temperature T == 0: the argmax, ties broken towards the LOWEST token id; no draw. (A T so
//     small that 1/T overflows a float behaves the same.) Filters 5-7 cannot change an argmax, so
//     they are skipped.
//  5. T > 0: probabilities softmax(x / T); min_p keeps p_i >= min_p * p_max (x_i >= x_max +
//     T * ln(min_p)).
//  6. top_k keeps the tokens whose logit is >= the k-th largest among those left. Ties with the
//     k-th are all kept (as HF and vLLM's threshold do), so more than k may remain.
//  7. top_p, over the distribution renormalized to what 5-6 left: the smallest set of most likely
//     tokens whose probability sums to >= top_p; tokens tied with the last one taken are all in.
//     (A set whose sum lands within float rounding of top_p may or may not count as reaching it.)
//  8. One uniform draw u in [0, 1) from the sequence's generator (see SamplingRng: draw number =
//     tokens generated so far), then the first kept token in increasing id order whose
//     cumulative probability exceeds u.
// One approximation: tokens more than 32 temperature units below the top logit (probability
// under e^-32 ~ 1.3e-14 of the top token's; together, over 152k tokens, under 2e-9 of the mass)
// count as probability 0 from step 5 on: they are never drawn, not counted by top_k, and not
// listed by processed logprobs. That keeps a trained model's row down to a few hundred
// candidates.
//
// Every filter is a floor on the processed logit (the kept set is {x >= t}), found without
// sorting: min_p directly, top_k with a heap (or a selection for k > 256), top_p by a weighted
// selection (SelectWeightedThreshold) over the candidates that can be in the nucleus. Measured in
// sampler_bench.cc.
//
// Logprobs (params.logprobs set): the chosen token's logprob and the params.logprobs most likely
// alternatives (larger first, then lower id), from
//  - kRaw (default): log_softmax of the logits as given, before masks and penalties;
//  - kProcessed: log_softmax of the distribution of step 8: after penalties, temperature and
//    filters, over the kept set only. Under greedy (T == 0) there is no sampling distribution;
//    as vLLM does, it is then log_softmax of the masked and penalized logits (no temperature, no
//    filters).
// Alternatives of probability 0 (masked or filtered out) are not listed, so the list may be
// shorter than asked for.
//
// Thread safety: a SequenceSampler is used by one thread at a time; Sample is const. A
// SamplingWorkspace is scratch for one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/engine/sampler/finish_reason.h"
#include "lib/engine/sampler/logits_kernels.h"
#include "lib/engine/sampler/sampling_params.h"
#include "lib/engine/sampler/sampling_rng.h"

namespace r1serve::engine {

// What one sample needs to know besides its SamplingParams.
struct SequenceSamplerOptions {
  int32_t vocab_size = 0;              // length of a logits row (ModelInfo.vocab_size)
  std::vector<int32_t> eos_token_ids;  // ModelInfo.eos_token_ids
  uint32_t max_context_tokens = 0;     // context window; 0: none known (no kContextLength)
  uint32_t sample_index = 0;           // i of the request's n samples: seeds from (seed, i)
  SamplingDefaults defaults;           // fill the params' unset knobs
  SamplingLimits limits;               // limits.vocab_size is taken from vocab_size above
};

struct TokenLogprob {
  int32_t token_id;
  float logprob;
};

struct SampledToken {
  int32_t token_id = -1;
  std::optional<float> logprob;            // set when params.logprobs is set
  std::vector<TokenLogprob> top_logprobs = {};  // params.logprobs most likely, most likely first
};

// Scratch buffers of Sample, grown to the largest row seen and reused: keeping them out of the
// SequenceSampler keeps a sequence's footprint at its token counts, however long the vocabulary.
class SamplingWorkspace {
 public:
  SamplingWorkspace() = default;

 private:
  friend class SequenceSampler;
  // Grown (never shrunk) to the row length, so that steps neither allocate nor zero-fill.
  std::vector<float> candidate_logits_;
  std::vector<float> candidate_weights_;
  std::vector<int32_t> candidate_ids_;
  std::vector<float> ones_;  // unit weights for top_k's selection
  SelectionScratch selection_;
  std::vector<std::pair<int32_t, float>> saved_;  // logits changed in place, to restore
};

class SequenceSampler {
 public:
  // Validates `params` (INVALID_ARGUMENT naming the field), resolves its unset knobs from
  // options.defaults and prepares the sample's state. `prompt_tokens` feed the repetition
  // penalty and the context-window check.
  static absl::StatusOr<SequenceSampler> Create(const SamplingParams& params,
                                                std::span<const int32_t> prompt_tokens,
                                                const SequenceSamplerOptions& options);

  // Chooses the next token from `logits` ([vocab_size], the model's output for the next
  // position). The row is scratch during the call (penalties are applied in place) and holds its
  // original values again on return. Does not change the sampler: calling it twice gives the
  // same token. Errors: the row's length is not vocab_size (INVALID_ARGUMENT); the row holds NaN
  // or +inf (INTERNAL: a numerical fault of the model); every token is masked
  // (FAILED_PRECONDITION); the sample has finished (FAILED_PRECONDITION).
  absl::StatusOr<SampledToken> Sample(std::span<float> logits, SamplingWorkspace& workspace) const;

  // Records a generated token (sampled here, or elsewhere for this sample, e.g. by the prefill
  // instance) and says whether the sample ends with it, in this order of precedence: kEos (an
  // EOS id, unless ignore_eos), kStopToken, kLength (max_tokens reached), kContextLength. EOS and
  // stop tokens end the sample only once min_tokens tokens came before them, as the mask in
  // Sample would have it. Stop strings are the text's business: see StopStringMatcher and
  // stop_strings_active(). An id outside the vocabulary is INVALID_ARGUMENT; appending to a
  // finished sample is FAILED_PRECONDITION.
  absl::StatusOr<FinishReason> Append(int32_t token_id);

  // The params with every knob resolved.
  const SamplingParams& params() const { return params_; }
  int32_t vocab_size() const { return vocab_size_; }
  uint32_t generated_tokens() const { return generated_; }
  bool finished() const { return finished_; }
  // Whether a stop string completed by the text of the last appended token may end the sample
  // (min_tokens tokens generated, that token included).
  bool stop_strings_active() const { return generated_ >= params_.min_tokens; }
  // The key of the sample's generator; draw j is used for the token at output position j.
  uint64_t rng_key() const { return rng_.key(); }

 private:
  SequenceSampler(SamplingParams params, const SequenceSamplerOptions& options, uint64_t key);

  struct Choice {
    int32_t token_id;
    std::optional<float> logprob;  // processed-mode values, when asked for
    std::vector<TokenLogprob> top_logprobs;
  };

  // Steps 1-3 in place; every overwritten value is saved first.
  void ApplyMasksAndPenalties(std::span<float> x,
                              std::vector<std::pair<int32_t, float>>& saved) const;
  Choice ChooseGreedy(std::span<const float> x, float max) const;
  Choice ChooseSampled(std::span<const float> x, float max, SamplingWorkspace& ws) const;
  bool wants_processed_logprobs() const {
    return params_.logprobs.has_value() && params_.logprobs_mode == LogprobsMode::kProcessed;
  }

  SamplingParams params_;  // resolved
  int32_t vocab_size_;
  uint32_t max_context_tokens_;
  uint32_t prompt_tokens_ = 0;
  bool greedy_;
  float temperature_;
  SamplingRng rng_;
  std::vector<int32_t> eos_ids_;
  std::vector<int32_t> stop_ids_;
  std::vector<int32_t> masked_before_min_tokens_;  // stop ids, plus EOS unless ignore_eos
  uint32_t generated_ = 0;
  bool finished_ = false;
  // Distinct prompt and output tokens (kept only when repetition_penalty != 1).
  absl::flat_hash_set<int32_t> seen_tokens_;
  // Occurrences of each output token (kept only when a presence/frequency penalty is on).
  absl::flat_hash_map<int32_t, uint32_t> output_counts_;
};

// One sample's step in a batch.
struct BatchStep {
  SampledToken token;
  FinishReason finish = FinishReason::kNone;
};

// Samples and appends one token for each sampler from `logits` ([samplers.size(), vocab_size],
// row-major; row i is samplers[i]'s), each with its own params. Item errors (a NaN row, a finished
// sampler) fail only their item. The whole call fails (INVALID_ARGUMENT) when the buffer's size is
// not a whole number of rows or a sampler's vocab_size differs from the row length. Runs on the
// calling thread: callers split big batches across threads, one workspace each.
absl::StatusOr<std::vector<absl::StatusOr<BatchStep>>> SampleBatch(
    std::span<SequenceSampler* const> samplers, std::span<float> logits,
    SamplingWorkspace& workspace);

}  // namespace r1serve::engine
