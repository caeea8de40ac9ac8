#include "lib/engine/sampler/sequence_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/engine/sampler/logits_kernels.h"

namespace r1serve::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// The least finite float: a floor that keeps every finite logit and drops -inf.
constexpr float kLowestFinite = std::numeric_limits<float>::lowest();
// Tokens more than this many temperature units below the top logit (probability below e^-32 ~
// 1.3e-14 times the top token's) count as probability 0: all of them together, even across a
// 152k vocabulary, weigh under 2e-9 of the distribution, below float resolution. Cutting them
// spares exp() over the whole row: a trained model's row then leaves a few hundred candidates.
constexpr float kNegligibleSpan = 32.0f;
// top_k up to this many is found with a heap (one pass, no copies); larger ones by selection.
constexpr int32_t kTopKByHeap = 256;

bool Contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

uint64_t RandomKey(uint32_t sample_index) {
  std::random_device device;
  const uint64_t entropy = (static_cast<uint64_t>(device()) << 32) ^ device();
  return SamplingRng::KeyFor(entropy, sample_index);
}

// Puts back what ApplyMasksAndPenalties overwrote, last change first so that a token changed
// twice ends with its original value.
class RestoreOnExit {
 public:
  RestoreOnExit(std::span<float> logits, std::vector<std::pair<int32_t, float>>& saved)
      : logits_(logits), saved_(saved) {
    saved_.clear();
  }
  ~RestoreOnExit() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) logits_[it->first] = it->second;
    saved_.clear();
  }
  RestoreOnExit(const RestoreOnExit&) = delete;
  RestoreOnExit& operator=(const RestoreOnExit&) = delete;

 private:
  std::span<float> logits_;
  std::vector<std::pair<int32_t, float>>& saved_;
};

std::vector<TokenLogprob> ToLogprobs(const std::vector<RankedLogit>& ranked, float shift,
                                     float scale, float log_z) {
  std::vector<TokenLogprob> out;
  out.reserve(ranked.size());
  for (const RankedLogit& r : ranked) {
    out.push_back({r.index, (r.value - shift) * scale - log_z});
  }
  return out;
}

}  // namespace

absl::StatusOr<SequenceSampler> SequenceSampler::Create(const SamplingParams& params,
                                                        std::span<const int32_t> prompt_tokens,
                                                        const SequenceSamplerOptions& options) {
  if (options.vocab_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocab_size must be positive, got ", options.vocab_size));
  }
  SamplingLimits limits = options.limits;
  limits.vocab_size = options.vocab_size;
  RETURN_IF_ERROR(ValidateSamplingParams(params, limits));
  SamplingParams resolved = ResolveSamplingParams(params, options.defaults);
  // The defaults come from the model's files: hold them to the same rules, naming their origin.
  // (A bad default is the server's fault, not the caller's: INTERNAL.)
  if (absl::Status s = ValidateSamplingParams(resolved, limits); !s.ok()) {
    return absl::InternalError(
        absl::StrCat("the model's default sampling parameters are invalid: ", s.message()));
  }
  for (int32_t id : options.eos_token_ids) {
    if (id < 0 || id >= options.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "EOS token id ", id, " is outside the vocabulary [0, ", options.vocab_size, ")"));
    }
  }
  for (int32_t id : prompt_tokens) {
    if (id < 0 || id >= options.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt token id ", id, " is outside the vocabulary [0, ", options.vocab_size, ")"));
    }
  }
  const uint64_t key = resolved.seed.has_value()
                           ? SamplingRng::KeyFor(*resolved.seed, options.sample_index)
                           : RandomKey(options.sample_index);
  SequenceSampler sampler(std::move(resolved), options, key);
  sampler.prompt_tokens_ = static_cast<uint32_t>(prompt_tokens.size());
  if (*sampler.params_.repetition_penalty != 1.0f) {
    sampler.seen_tokens_.insert(prompt_tokens.begin(), prompt_tokens.end());
  }
  return sampler;
}

SequenceSampler::SequenceSampler(SamplingParams params, const SequenceSamplerOptions& options,
                                 uint64_t key)
    : params_(std::move(params)),
      vocab_size_(options.vocab_size),
      max_context_tokens_(options.max_context_tokens),
      temperature_(*params_.temperature),
      rng_(key),
      eos_ids_(options.eos_token_ids),
      stop_ids_(params_.stop_token_ids) {
  // A temperature whose reciprocal overflows cannot be applied; its limit is the argmax.
  greedy_ = temperature_ == 0 || !std::isfinite(1.0f / temperature_);
  masked_before_min_tokens_ = stop_ids_;
  if (!params_.ignore_eos) {
    masked_before_min_tokens_.insert(masked_before_min_tokens_.end(), eos_ids_.begin(),
                                     eos_ids_.end());
  }
  std::sort(masked_before_min_tokens_.begin(), masked_before_min_tokens_.end());
  masked_before_min_tokens_.erase(
      std::unique(masked_before_min_tokens_.begin(), masked_before_min_tokens_.end()),
      masked_before_min_tokens_.end());
}

void SequenceSampler::ApplyMasksAndPenalties(std::span<float> x,
                                             std::vector<std::pair<int32_t, float>>& saved) const {
  auto set = [&](int32_t id, float value) {
    saved.emplace_back(id, x[id]);
    x[id] = value;
  };
  if (generated_ < params_.min_tokens) {
    for (int32_t id : masked_before_min_tokens_) set(id, kNegInf);
  }
  const float repetition = *params_.repetition_penalty;
  if (repetition != 1.0f) {
    for (int32_t id : seen_tokens_) {
      const float v = x[id];
      set(id, v > 0 ? v / repetition : v * repetition);
    }
  }
  const float frequency = params_.frequency_penalty;
  const float presence = params_.presence_penalty;
  if (frequency != 0 || presence != 0) {
    for (const auto& [id, count] : output_counts_) {
      set(id, x[id] - frequency * static_cast<float>(count) - presence);
    }
  }
}

SequenceSampler::Choice SequenceSampler::ChooseGreedy(std::span<const float> x, float max) const {
  Choice choice{static_cast<int32_t>(FirstIndexOf(x, max)), std::nullopt, {}};
  if (wants_processed_logprobs()) {
    const float log_z =
        static_cast<float>(std::log(SumExpAtLeast(x, max - kNegligibleSpan, max, 1.0f)));
    choice.logprob = x[choice.token_id] - max - log_z;
    choice.top_logprobs =
        ToLogprobs(TopN(x, {}, kLowestFinite, *params_.logprobs), max, 1.0f, log_z);
  }
  return choice;
}

SequenceSampler::Choice SequenceSampler::ChooseSampled(std::span<const float> x, float max,
                                                       SamplingWorkspace& ws) const {
  const float t = temperature_;
  const float inv_t = 1.0f / t;
  const float min_p = *params_.min_p;
  const int32_t top_k = *params_.top_k;
  const bool top_k_on = top_k > 0 && static_cast<size_t>(top_k) < x.size();
  const float top_p = *params_.top_p;
  const double u = rng_.Uniform(generated_);

  // Every filter is a floor on the processed logit: the kept tokens are x >= keep, and each
  // filter raises keep. First the negligible weights and min_p
  // (p_i >= min_p * p_max  <=>  (x_i - max) / T >= ln(min_p)).
  float keep = std::max(max - kNegligibleSpan * t, kLowestFinite);
  if (min_p > 0) keep = std::max(keep, max + t * std::log(min_p));
  // A small top_k straight from the row, with a heap.
  if (top_k_on && top_k <= kTopKByHeap) {
    const std::vector<RankedLogit> top = TopN(x, {}, keep, static_cast<size_t>(top_k));
    if (top.size() == static_cast<size_t>(top_k)) keep = std::max(keep, top.back().value);
  }

  // The candidates (cx, cid, cw): the tokens x >= floor with their weights. A peaked row (a
  // trained model's) leaves few: they are gathered. A flat one (random weights, high
  // temperature) leaves most of the row: the row itself is used, ids = positions. Every 16th
  // logit tells which.
  std::span<const float> cx;
  std::span<const int32_t> cid;  // empty: identity
  std::span<float> cw;
  {
    const float floor = keep;
    size_t sampled = 0;
    for (size_t i = 0; i < x.size(); i += 16) sampled += x[i] >= floor;
    cx = x;
    cid = {};
    if (sampled * 16 * 4 <= x.size()) {
      if (ws.candidate_logits_.size() < x.size()) {
        ws.candidate_logits_.resize(x.size());
        ws.candidate_ids_.resize(x.size());
      }
      const size_t n = GatherAtLeast(x, floor, ws.candidate_logits_, ws.candidate_ids_);
      cx = std::span<const float>(ws.candidate_logits_.data(), n);
      cid = std::span<const int32_t>(ws.candidate_ids_.data(), n);
    }
    if (ws.candidate_weights_.size() < cx.size()) ws.candidate_weights_.resize(cx.size());
    cw = std::span<float>(ws.candidate_weights_.data(), cx.size());
    ExpScaled(cx, max, inv_t, cw);
  }

  if (top_k_on && top_k > kTopKByHeap) {
    if (ws.ones_.size() < cx.size()) ws.ones_.resize(cx.size(), 1.0f);
    keep = std::max(
        keep, SelectWeightedThreshold(cx, std::span<const float>(ws.ones_).first(cx.size()), keep,
                                      static_cast<double>(top_k), ws.selection_));
  }
  if (top_p < 1.0f) {
    const double total = SumWeightsAtLeast(cx, cw, keep);
    // No token of weight w < (1 - top_p) * total / n can be in the nucleus (were one in it, all
    // the tokens outside it, lighter still, would weigh less than (1 - top_p) * total together),
    // so the search leaves them out (with a factor 2 of margin for rounding). On a peaked row
    // that leaves a handful.
    const double lightest = 0.5 * (1.0 - top_p) * total / static_cast<double>(cx.size());
    const float search_floor = std::max(keep, max + t * static_cast<float>(std::log(lightest)));
    keep =
        std::max(keep, SelectWeightedThreshold(cx, cw, search_floor, top_p * total, ws.selection_));
  }

  const double z = SumWeightsAtLeast(cx, cw, keep);
  const int64_t at = SampleCumulativeWeights(cx, cw, keep, u * z);
  Choice choice{cid.empty() ? static_cast<int32_t>(at) : cid[at], std::nullopt, {}};
  if (wants_processed_logprobs()) {
    const float log_z = static_cast<float>(std::log(z));
    choice.logprob = (cx[at] - max) * inv_t - log_z;
    choice.top_logprobs =
        ToLogprobs(TopN(cx, cid, keep, params_.logprobs.value_or(0)), max, inv_t, log_z);
  }
  return choice;
}

absl::StatusOr<SampledToken> SequenceSampler::Sample(std::span<float> logits,
                                                     SamplingWorkspace& workspace) const {
  if (logits.size() != static_cast<size_t>(vocab_size_)) {
    return absl::InvalidArgumentError(absl::StrCat("logits row has ", logits.size(),
                                                   " entries; the vocabulary has ", vocab_size_));
  }
  if (finished_) return absl::FailedPreconditionError("the sample has already finished");

  const bool raw_logprobs =
      params_.logprobs.has_value() && params_.logprobs_mode != LogprobsMode::kProcessed;
  float raw_log_z = 0;
  std::vector<RankedLogit> raw_top;
  if (raw_logprobs) {
    const LogitsMax raw = MaxWithNanCheck(logits);
    if (raw.has_nan || !std::isfinite(raw.max)) {
      return absl::InternalError("the model's logits hold NaN or infinite values");
    }
    // Weights under e^-32 of the top one are below the float resolution of the sum: skipped.
    raw_log_z = raw.max + static_cast<float>(std::log(
                              SumExpAtLeast(logits, raw.max - kNegligibleSpan, raw.max, 1.0f)));
    raw_top = TopN(logits, {}, kLowestFinite, *params_.logprobs);
  }

  Choice choice;
  {
    RestoreOnExit restore(logits, workspace.saved_);
    ApplyMasksAndPenalties(logits, workspace.saved_);
    const LogitsMax processed = MaxWithNanCheck(logits);
    if (processed.has_nan || processed.max == std::numeric_limits<float>::infinity()) {
      return absl::InternalError("the model's logits hold NaN or +inf values");
    }
    if (processed.max == kNegInf) {
      return absl::FailedPreconditionError(
          "no token can be sampled: every logit is -inf after the min_tokens mask");
    }
    choice = greedy_ ? ChooseGreedy(logits, processed.max)
                     : ChooseSampled(logits, processed.max, workspace);
  }

  SampledToken out;
  out.token_id = choice.token_id;
  if (raw_logprobs) {
    out.logprob = logits[choice.token_id] - raw_log_z;
    out.top_logprobs = ToLogprobs(raw_top, 0.0f, 1.0f, raw_log_z);
  } else if (params_.logprobs.has_value()) {
    out.logprob = choice.logprob;
    out.top_logprobs = std::move(choice.top_logprobs);
  }
  return out;
}

absl::StatusOr<FinishReason> SequenceSampler::Append(int32_t token_id) {
  if (finished_) return absl::FailedPreconditionError("the sample has already finished");
  if (token_id < 0 || token_id >= vocab_size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("token id ", token_id, " is outside the vocabulary [0, ", vocab_size_, ")"));
  }
  const bool may_stop_on_token = generated_ >= params_.min_tokens;
  ++generated_;
  if (*params_.repetition_penalty != 1.0f) seen_tokens_.insert(token_id);
  if (params_.frequency_penalty != 0 || params_.presence_penalty != 0) {
    ++output_counts_[token_id];
  }

  FinishReason why = FinishReason::kNone;
  if (may_stop_on_token && !params_.ignore_eos && Contains(eos_ids_, token_id)) {
    why = FinishReason::kEos;
  } else if (may_stop_on_token && Contains(stop_ids_, token_id)) {
    why = FinishReason::kStopToken;
  } else if (params_.max_tokens.has_value() && generated_ >= *params_.max_tokens) {
    why = FinishReason::kLength;
  } else if (max_context_tokens_ > 0 &&
             static_cast<uint64_t>(prompt_tokens_) + generated_ >= max_context_tokens_) {
    why = FinishReason::kContextLength;
  }
  finished_ = why != FinishReason::kNone;
  return why;
}

absl::StatusOr<std::vector<absl::StatusOr<BatchStep>>> SampleBatch(
    std::span<SequenceSampler* const> samplers, std::span<float> logits,
    SamplingWorkspace& workspace) {
  std::vector<absl::StatusOr<BatchStep>> steps;
  if (samplers.empty()) return steps;
  if (logits.size() % samplers.size() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("logits hold ", logits.size(),
                                                   " values, not a whole number of rows for ",
                                                   samplers.size(), " sequences"));
  }
  const size_t row = logits.size() / samplers.size();
  for (size_t i = 0; i < samplers.size(); ++i) {
    if (static_cast<size_t>(samplers[i]->vocab_size()) != row) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence ", i, " samples from a vocabulary of ", samplers[i]->vocab_size(),
                       " but the logits rows hold ", row));
    }
  }
  steps.reserve(samplers.size());
  for (size_t i = 0; i < samplers.size(); ++i) {
    SequenceSampler& sampler = *samplers[i];
    absl::StatusOr<SampledToken> token = sampler.Sample(logits.subspan(i * row, row), workspace);
    if (!token.ok()) {
      steps.push_back(token.status());
      continue;
    }
    absl::StatusOr<FinishReason> finish = sampler.Append(token->token_id);
    if (!finish.ok()) {
      steps.push_back(finish.status());
      continue;
    }
    steps.push_back(BatchStep{*std::move(token), *finish});
  }
  return steps;
}

}  // namespace r1serve::engine
