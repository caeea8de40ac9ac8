#include "tools/loadgen/workload.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace r1serve::loadgen {

absl::StatusOr<LengthRange> ParseLengthRange(absl::string_view text, absl::string_view what) {
  text = absl::StripAsciiWhitespace(text);
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  LengthRange range;
  const bool ok = (parts.size() == 1 && absl::SimpleAtoi(parts[0], &range.min) &&
                   (range.max = range.min, true)) ||
                  (parts.size() == 2 && absl::SimpleAtoi(parts[0], &range.min) &&
                   absl::SimpleAtoi(parts[1], &range.max));
  if (!ok || range.min < 1 || range.max < range.min) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", text, "\" must be a token count N >= 1 or a range A-B with 1 <= A <= B"));
  }
  return range;
}

absl::StatusOr<Workload> Workload::FromLengths(absl::string_view prompt, absl::string_view output) {
  Workload w;
  Component c;
  absl::StatusOr<LengthRange> p = ParseLengthRange(prompt, "--prompt_tokens");
  if (!p.ok()) return p.status();
  absl::StatusOr<LengthRange> o = ParseLengthRange(output, "--output_tokens");
  if (!o.ok()) return o.status();
  c.prompt = *p;
  c.output = *o;
  w.components_.push_back(c);
  return w;
}

absl::StatusOr<Workload> Workload::FromMix(absl::string_view mix) {
  Workload w;
  double total = 0;
  for (absl::string_view entry : absl::StrSplit(mix, ',')) {
    std::vector<absl::string_view> weight_rest = absl::StrSplit(entry, absl::MaxSplits(':', 1));
    std::vector<absl::string_view> sides;
    Component c;
    if (weight_rest.size() == 2) sides = absl::StrSplit(weight_rest[1], '/');
    if (weight_rest.size() != 2 || sides.size() != 2 ||
        !absl::SimpleAtod(absl::StripAsciiWhitespace(weight_rest[0]), &c.weight) ||
        !(c.weight > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mix entry \"", entry, "\" must be WEIGHT:PROMPT/OUTPUT, e.g. 0.8:64-128/256"));
    }
    absl::StatusOr<LengthRange> p = ParseLengthRange(sides[0], "--mix prompt length");
    if (!p.ok()) return p.status();
    absl::StatusOr<LengthRange> o = ParseLengthRange(sides[1], "--mix output length");
    if (!o.ok()) return o.status();
    c.prompt = *p;
    c.output = *o;
    total += c.weight;
    w.components_.push_back(c);
  }
  for (Component& c : w.components_) c.weight /= total;
  return w;
}

RequestShape Workload::Draw(std::mt19937_64& rng) const {
  double u = std::uniform_real_distribution<double>(0, 1)(rng);
  const Component* chosen = &components_.back();
  for (const Component& c : components_) {
    if (u < c.weight) {
      chosen = &c;
      break;
    }
    u -= c.weight;
  }
  auto draw = [&](const LengthRange& r) {
    return std::uniform_int_distribution<uint32_t>(r.min, r.max)(rng);
  };
  const uint32_t prompt = draw(chosen->prompt);
  return RequestShape{.prompt_tokens = prompt, .output_tokens = draw(chosen->output)};
}

double NextArrivalGap(double rate, std::mt19937_64& rng) {
  return std::exponential_distribution<double>(rate)(rng);
}

std::vector<int32_t> RandomTokenIds(uint32_t count, int32_t low, int32_t high,
                                    std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> id(low, high - 1);
  std::vector<int32_t> out(count);
  for (int32_t& t : out) t = id(rng);
  return out;
}

}  // namespace r1serve::loadgen
