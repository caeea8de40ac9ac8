// What r1serve-loadgen sends: request shapes drawn from length distributions, and the arrival
// process. Pure (workload_test.cc).
//
//   Length specs:  "512" (exactly), "128-1024" (uniform, inclusive).
//   Mixtures:      "0.8:64/256,0.2:2048/16" — with weight 0.8 a prompt of 64 tokens and 256
//                  output tokens, with weight 0.2 a 2048-token prompt and 16 output tokens
//                  ("long prompts arriving while others decode"); each side may be a range.
//
//   ASSIGN_OR_RETURN(Workload w, Workload::FromMix("0.8:64/256,0.2:2048/16"));
//   std::mt19937_64 rng(seed);
//   RequestShape shape = w.Draw(rng);          // {prompt_tokens, output_tokens}
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace r1serve::loadgen {

struct LengthRange {
  uint32_t min = 0;
  uint32_t max = 0;  // inclusive
};

// "N" or "A-B" with 1 <= A <= B; INVALID_ARGUMENT naming `what` otherwise.
absl::StatusOr<LengthRange> ParseLengthRange(absl::string_view text, absl::string_view what);

struct RequestShape {
  uint32_t prompt_tokens = 0;
  uint32_t output_tokens = 0;
};

class Workload {
 public:
  struct Component {
    double weight = 1;
    LengthRange prompt;
    LengthRange output;
  };

  // One component from --prompt_tokens and --output_tokens specs.
  static absl::StatusOr<Workload> FromLengths(absl::string_view prompt, absl::string_view output);
  // "w:P/O,w:P/O,...", weights positive (normalized).
  static absl::StatusOr<Workload> FromMix(absl::string_view mix);

  RequestShape Draw(std::mt19937_64& rng) const;
  const std::vector<Component>& components() const { return components_; }

 private:
  std::vector<Component> components_;
};

// Seconds until the next arrival of a Poisson process with `rate` per second (exponential
// gaps).
double NextArrivalGap(double rate, std::mt19937_64& rng);

// `count` random token ids in [low, high).
std::vector<int32_t> RandomTokenIds(uint32_t count, int32_t low, int32_t high,
                                    std::mt19937_64& rng);

}  // namespace r1serve::loadgen
