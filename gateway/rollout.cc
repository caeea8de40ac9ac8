#include "gateway/rollout.h"

#include <atomic>
#include <cmath>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "lib/rl/rollout_group.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/status_conversion.h"

namespace r1serve::gateway {
namespace {

constexpr char kThinkOpen[] = "<think>";
constexpr char kThinkClose[] = "</think>";

int64_t Micros(absl::Duration d) { return absl::ToInt64Microseconds(d); }

rl::AdvantageMode ModeOf(v1::AdvantageMode mode) {
  switch (mode) {
    case v1::ADVANTAGE_MODE_GRPO_TRL:
      return rl::AdvantageMode::kGrpoTrl;
    case v1::ADVANTAGE_MODE_DR_GRPO:
      return rl::AdvantageMode::kDrGrpo;
    default:
      return rl::AdvantageMode::kGrpoVerl;
  }
}

v1::ItemError ItemErrorOf(const absl::Status& status) {
  v1::ItemError error;
  error.set_code(static_cast<int32_t>(status.code()));
  error.set_message(std::string(status.message()));
  return error;
}

// The content of the conversation's last user turn: what the reward service calls the prompt.
std::string LastUserTurn(const v1::RolloutPrompt& prompt) {
  for (int i = prompt.messages_size() - 1; i >= 0; --i) {
    if (prompt.messages(i).role() == v1::CHAT_ROLE_USER) return prompt.messages(i).content();
  }
  return std::string();
}

// Collects one round's stream: every sample's text, tokens and ending, and the final usage.
class RoundCollector final : public ResponseSink {
 public:
  struct Sample {
    std::string text;
    std::vector<int32_t> token_ids;
    std::vector<v1::TokenLogprob> logprobs;
    v1::FinishReason finish = v1::FINISH_REASON_UNSPECIFIED;
    std::string stop_string;
    std::optional<v1::ItemError> error;
  };

  explicit RoundCollector(int samples) : samples_(static_cast<size_t>(samples)) {}

  bool Send(v1::GatewayGenerateResponse response) override {
    for (const v1::SampleDelta& d : response.samples()) {
      if (d.index() >= samples_.size()) continue;
      Sample& s = samples_[d.index()];
      s.text += d.content();
      s.token_ids.insert(s.token_ids.end(), d.token_ids().begin(), d.token_ids().end());
      s.logprobs.insert(s.logprobs.end(), d.logprobs().begin(), d.logprobs().end());
      if (d.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
        s.finish = d.finish_reason();
        s.stop_string = d.stop_string();
        if (d.has_error()) s.error = d.error();
      }
    }
    if (response.has_usage()) usage_ = response.usage();
    if (response.has_timing()) timing_ = response.timing();
    return true;
  }

  std::vector<Sample>& samples() { return samples_; }
  const v1::Usage& usage() const { return usage_; }
  const v1::TimingBreakdown& timing() const { return timing_; }

 private:
  std::vector<Sample> samples_;
  v1::Usage usage_;
  v1::TimingBreakdown timing_;
};

}  // namespace

void SplitReasoning(const std::string& text, bool starts_in_reasoning, std::string* reasoning,
                    std::string* content) {
  const size_t close = text.rfind(kThinkClose);
  std::string before;
  if (close != std::string::npos) {
    before = text.substr(0, close);
    *content = text.substr(close + sizeof(kThinkClose) - 1);
  } else if (starts_in_reasoning || absl::StartsWith(text, kThinkOpen)) {
    before = text;  // the block never closed: all of it is reasoning
    content->clear();
  } else {
    reasoning->clear();
    *content = text;
    return;
  }
  *reasoning = absl::StrReplaceAll(before, {{kThinkOpen, ""}, {kThinkClose, ""}});
}

struct RolloutRunner::Round {
  std::vector<RoundCollector::Sample> samples;
  std::vector<std::optional<v1::RewardResult>> rewards;  // per sample, when scored
  std::vector<uint32_t> reasoning_tokens;                // per sample
  v1::Usage usage;
  v1::TimingBreakdown timing;
  int64_t reward_us = 0;
};

CallScope* RolloutRunner::NewScope(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return nullptr;
  scopes_.push_back(std::make_unique<CallScope>(id, deadline_));
  return scopes_.back().get();
}

void RolloutRunner::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  for (const std::unique_ptr<CallScope>& scope : scopes_) scope->Cancel();
}

absl::Status RolloutRunner::Validate(const v1::RolloutRequest& request) const {
  if (request.prompts_size() == 0) return absl::InvalidArgumentError("prompts is empty");
  for (int i = 0; i < request.prompts_size(); ++i) {
    if (request.prompts(i).messages_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("prompts[", i, "].messages is empty"));
    }
  }
  if (request.group_size() < 1) return absl::InvalidArgumentError("group_size must be >= 1");
  if (request.sampling().n() != 0 && request.sampling().n() != request.group_size()) {
    return absl::InvalidArgumentError(absl::StrCat("sampling.n (", request.sampling().n(),
                                                   ") must be 0 or group_size (",
                                                   request.group_size(), ")"));
  }
  if (request.has_rejection() && !std::isfinite(request.rejection().min_reward())) {
    return absl::InvalidArgumentError("rejection.min_reward must be finite");
  }
  if (!v1::AdvantageMode_IsValid(request.advantage_mode())) {
    return absl::InvalidArgumentError("advantage_mode: unknown value");
  }
  return absl::OkStatus();
}

absl::Status RolloutRunner::GenerateRound(const v1::RolloutRequest& request, int index, int round,
                                          const std::vector<int32_t>& prompt_ids,
                                          bool starts_in_reasoning, Round& out) {
  CallScope* scope = NewScope(absl::StrCat(request_id_, "/", index, "/", round));
  if (scope == nullptr) return absl::CancelledError("the rollout was cancelled");
  v1::GatewayGenerateRequest generate;
  generate.set_model(request.model());
  generate.mutable_token_ids()->mutable_ids()->Add(prompt_ids.begin(), prompt_ids.end());
  *generate.mutable_sampling() = request.sampling();
  generate.mutable_sampling()->set_n(request.group_size());
  // Rejection sampling's extra rounds must draw new samples: round r uses seed + r.
  if (request.sampling().has_seed()) {
    generate.mutable_sampling()->set_seed(request.sampling().seed() + static_cast<uint64_t>(round));
  }
  if (!request.sampling().has_logprobs()) generate.mutable_sampling()->set_logprobs(0);
  RoundCollector collector(static_cast<int>(request.group_size()));
  GenerationPipeline pipeline(deps_, scope, absl::Now(), &collector);
  const grpc::Status status = pipeline.RunGenerate(generate);
  if (!status.ok()) return rpc::ToAbslStatus(status);

  out.samples = std::move(collector.samples());
  out.usage = collector.usage();
  out.timing = collector.timing();
  out.reasoning_tokens.assign(out.samples.size(), 0);
  for (size_t i = 0; i < out.samples.size(); ++i) {
    const RoundCollector::Sample& s = out.samples[i];
    if (s.error.has_value() || !(starts_in_reasoning || absl::StrContains(s.text, kThinkOpen))) {
      continue;
    }
    // Tokens up to and including the one that completes "</think>" (all of them if it never
    // comes); a tokenizer hiccup only loses this count.
    absl::StatusOr<std::vector<std::string>> pieces =
        deps_.tokenizer->TokenTexts(*scope, request.model(), s.token_ids);
    if (!pieces.ok()) continue;
    std::string so_far;
    uint32_t count = 0;
    const size_t overlap = std::string_view(kThinkClose).size() - 1;
    for (const std::string& piece : *pieces) {
      // Only the new piece and the tag's length before it can complete the tag: a search of
      // the whole text each time would be quadratic in a long reasoning sample.
      const size_t from = so_far.size() > overlap ? so_far.size() - overlap : 0;
      so_far += piece;
      ++count;
      if (so_far.find(kThinkClose, from) != std::string::npos) break;
    }
    out.reasoning_tokens[i] = count;
  }
  return absl::OkStatus();
}

absl::Status RolloutRunner::ScoreRound(const v1::RolloutRequest& request, int index,
                                       bool starts_in_reasoning, Round& round) {
  const v1::RolloutPrompt& prompt = request.prompts(index);
  v1::RewardTask task = prompt.task();
  if (task.spec().components_size() == 0 && request.reward_spec().components_size() > 0) {
    *task.mutable_spec() = request.reward_spec();
  }
  v1::ScoreRequest score;
  std::vector<size_t> scored;  // item -> sample
  for (size_t i = 0; i < round.samples.size(); ++i) {
    if (round.samples[i].error.has_value()) continue;
    v1::RewardItem* item = score.add_items();
    item->set_id(absl::StrCat(prompt.id(), "/", i));
    item->set_prompt(LastUserTurn(prompt));
    item->set_response(round.samples[i].text);
    item->set_starts_in_reasoning(starts_in_reasoning);
    *item->mutable_task() = task;
    scored.push_back(i);
  }
  round.rewards.assign(round.samples.size(), std::nullopt);
  if (scored.empty()) return absl::OkStatus();
  CallScope* scope = NewScope(absl::StrCat(request_id_, "/", index, "/reward"));
  if (scope == nullptr) return absl::CancelledError("the rollout was cancelled");
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::ScoreResponse> results = reward_->Score(*scope, score);
  round.reward_us = Micros(absl::Now() - start);
  if (!results.ok()) return results.status();
  for (size_t k = 0; k < scored.size(); ++k) {
    const v1::RewardResult& result = results->results(static_cast<int>(k));
    RoundCollector::Sample& sample = round.samples[scored[k]];
    if (result.has_error()) {
      sample.error = result.error();  // not scored: left out of the statistics
      continue;
    }
    round.rewards[scored[k]] = result;
  }
  return absl::OkStatus();
}

grpc::Status RolloutRunner::Run(const v1::RolloutRequest& request, const GroupSink& send) {
  if (absl::Status valid = Validate(request); !valid.ok()) return rpc::ToGrpcStatus(valid);
  if (reward_ == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this gateway has no reward service (--reward_endpoint)");
  }
  std::atomic<int> next{0};
  std::atomic<int> sent{0};
  absl::Mutex send_mu;
  auto work = [&] {
    for (int i = next.fetch_add(1); i < request.prompts_size(); i = next.fetch_add(1)) {
      std::optional<v1::RolloutResponse> group = RunGroup(request, i);
      if (!group.has_value()) continue;  // cut short by the deadline or a cancel
      absl::MutexLock lock(&send_mu);
      if (send(*std::move(group))) {
        sent.fetch_add(1);
      } else {
        Cancel();
      }
    }
  };
  std::vector<std::thread> workers;
  const int threads = std::min(request.prompts_size(), kMaxConcurrentRolloutGroups);
  for (int t = 0; t < threads; ++t) workers.emplace_back(work);
  for (std::thread& w : workers) w.join();
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return grpc::Status(grpc::StatusCode::CANCELLED, "the rollout was cancelled");
  }
  if (sent.load() < request.prompts_size()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        absl::StrCat("the deadline passed with ", sent.load(), " of ",
                                     request.prompts_size(), " groups sent"));
  }
  return grpc::Status::OK;
}

std::optional<v1::RolloutResponse> RolloutRunner::RunGroup(const v1::RolloutRequest& request,
                                                           int index) {
  const absl::Time start = absl::Now();
  const v1::RolloutPrompt& prompt = request.prompts(index);
  v1::RolloutResponse out;
  out.set_prompt_id(prompt.id());
  out.set_prompt_index(static_cast<uint32_t>(index));
  // Cut short by the caller (nothing is sent), or failed on its own (sent with its error).
  auto stop = [&](const absl::Status& status) -> std::optional<v1::RolloutResponse> {
    if (absl::Now() >= deadline_ || absl::IsCancelled(status)) return std::nullopt;
    out.clear_samples();
    *out.mutable_error() = ItemErrorOf(status);
    return out;
  };

  CallScope* scope = NewScope(absl::StrCat(request_id_, "/", index, "/template"));
  if (scope == nullptr) return std::nullopt;
  v1::ApplyChatTemplateRequest templating;
  templating.set_model(request.model());
  *templating.mutable_messages() = prompt.messages();
  templating.set_add_generation_prompt(true);
  templating.set_tokenize(true);
  templating.set_family(request.chat_family() == v1::CHAT_FAMILY_UNSPECIFIED
                            ? v1::CHAT_FAMILY_DEEPSEEK_R1
                            : request.chat_family());
  absl::StatusOr<v1::ApplyChatTemplateResponse> rendered =
      deps_.tokenizer->ApplyChatTemplate(*scope, templating);
  if (!rendered.ok()) return stop(rendered.status());
  const int64_t tokenize_us = Micros(absl::Now() - start);
  out.set_prompt(rendered->prompt());
  *out.mutable_prompt_token_ids() = rendered->token_ids();
  const std::vector<int32_t> prompt_ids(rendered->token_ids().begin(), rendered->token_ids().end());
  const bool starts_in_reasoning = rendered->ends_in_reasoning();

  std::optional<rl::RejectionRule> rule;
  if (request.has_rejection()) {
    rule = rl::RejectionRule{.min_reward = request.rejection().min_reward(),
                             .min_accepted = static_cast<int>(request.rejection().min_accepted()),
                             .max_retries = static_cast<int>(request.rejection().max_retries()),
                             .include_rejected = request.rejection().include_rejected()};
  }
  rl::RolloutGroup group(static_cast<int>(request.group_size()), ModeOf(request.advantage_mode()),
                         rule);
  std::vector<Round> rounds;
  v1::Usage* usage = out.mutable_usage();
  v1::TimingBreakdown* timing = out.mutable_timing();
  for (bool more = true; more;) {
    Round& round = rounds.emplace_back();
    const int r = static_cast<int>(rounds.size()) - 1;
    if (absl::Status s = GenerateRound(request, index, r, prompt_ids, starts_in_reasoning, round);
        !s.ok()) {
      return stop(s);
    }
    if (absl::Status s = ScoreRound(request, index, starts_in_reasoning, round); !s.ok()) {
      return stop(s);
    }
    std::vector<std::optional<double>> rewards;
    for (const std::optional<v1::RewardResult>& reward : round.rewards) {
      rewards.push_back(reward.has_value() ? std::optional<double>(reward->total_reward())
                                           : std::nullopt);
    }
    more = group.AddRound(rewards);
    usage->set_prompt_tokens(usage->prompt_tokens() + round.usage.prompt_tokens());
    usage->set_cached_prompt_tokens(usage->cached_prompt_tokens() +
                                    round.usage.cached_prompt_tokens());
    usage->set_completion_tokens(usage->completion_tokens() + round.usage.completion_tokens());
    for (uint32_t n : round.reasoning_tokens)
      usage->set_reasoning_tokens(usage->reasoning_tokens() + n);
    timing->set_queue_us(timing->queue_us() + round.timing.queue_us());
    timing->set_prefill_us(timing->prefill_us() + round.timing.prefill_us());
    timing->set_kv_transfer_us(timing->kv_transfer_us() + round.timing.kv_transfer_us());
    timing->set_decode_us(timing->decode_us() + round.timing.decode_us());
    timing->set_reward_us(timing->reward_us() + round.reward_us);
    if (r == 0) timing->set_first_token_us(round.timing.first_token_us());
  }

  const size_t group_size = request.group_size();
  for (const rl::RolloutGroup::Outcome& o : group.Outcomes()) {
    if (!o.returned) continue;
    const Round& round = rounds[static_cast<size_t>(o.index) / group_size];
    const size_t i = static_cast<size_t>(o.index) % group_size;
    const RoundCollector::Sample& s = round.samples[i];
    v1::RolloutSample* sample = out.add_samples();
    sample->set_index(static_cast<uint32_t>(o.index));
    sample->set_text(s.text);
    SplitReasoning(s.text, starts_in_reasoning, sample->mutable_reasoning_content(),
                   sample->mutable_content());
    sample->mutable_token_ids()->Add(s.token_ids.begin(), s.token_ids.end());
    for (const v1::TokenLogprob& l : s.logprobs) *sample->add_logprobs() = l;
    sample->set_finish_reason(s.finish);
    sample->set_stop_string(s.stop_string);
    if (round.rewards[i].has_value()) *sample->mutable_reward() = *round.rewards[i];
    sample->set_advantage(o.advantage);
    sample->set_accepted(o.accepted);
    if (s.error.has_value()) *sample->mutable_error() = *s.error;
  }
  const rl::GroupStatistics stats = group.Statistics();
  v1::GroupStats* g = out.mutable_stats();
  g->set_num_scored(static_cast<uint32_t>(stats.num_scored));
  g->set_reward_mean(stats.mean);
  g->set_reward_std(stats.std);
  g->set_zero_variance(stats.zero_variance);
  g->set_num_generated(static_cast<uint32_t>(group.num_generated()));
  g->set_num_rejected(static_cast<uint32_t>(group.num_rejected()));
  g->set_num_rounds(static_cast<uint32_t>(group.rounds()));
  timing->set_tokenize_us(tokenize_us);
  timing->set_total_us(Micros(absl::Now() - start));
  return out;
}

}  // namespace r1serve::gateway
