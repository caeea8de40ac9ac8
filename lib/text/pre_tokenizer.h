// tokenizer.json's "pre_tokenizer" for byte-level BPE: Split (regex or literal pattern, every
// split behaviour, invert), ByteLevel (add_prefix_space, use_regex) and Sequence of them, where
// each step splits every piece the previous step produced. The ByteLevel step must come last:
// it only re-spells bytes, which the BPE model does implicitly (see bpe_model.h), so the pieces
// handed out are raw UTF-8. Other types are an InvalidArgument error naming the type, and so
// are Sequences nested more than kMaxSequenceNesting deep or more than kMaxSteps steps.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> pre,
//                    PreTokenizer::FromJson(json["pre_tokenizer"]));
//   RETURN_IF_ERROR(pre->Split("Hello world", [](std::string_view piece) { ... }));
//   // pieces: "Hello", " world"
//
// Thread safety: immutable; Split may run on any number of threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/text/onig_regex.h"
#include "nlohmann/json_fwd.hpp"

namespace r1serve::text {

class PreTokenizer {
 public:
  // Steps a pre-tokenizer may have once Sequences are flattened (real files have a handful).
  // Splitting recurses once per step, so this bounds its stack.
  static constexpr size_t kMaxSteps = 64;

  static absl::StatusOr<std::unique_ptr<PreTokenizer>> FromJson(const nlohmann::json& json);

  // Calls `emit` with each non-empty pre-token of `text` (valid UTF-8), in order. The views
  // live until `emit` returns. An error (see OnigRegex::Find) when a Split pattern cannot be
  // matched against the text; the pieces emitted until then are a prefix of the right ones and
  // should be discarded.
  absl::Status Split(std::string_view text, absl::FunctionRef<void(std::string_view)> emit) const;

  // HF's SplitDelimiterBehavior.
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

 private:
  struct Step {
    std::unique_ptr<const OnigRegex> regex;  // null for a ByteLevel step without use_regex
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;  // ByteLevel only
  };
  PreTokenizer() = default;
  // Appends the steps of `json` (found at `where`, inside `depth` Sequences); sets
  // *has_byte_level once a ByteLevel step is added.
  absl::Status AddSteps(const nlohmann::json& json, const std::string& where, int depth,
                        bool* has_byte_level);
  // Run splits `piece` with the steps from `step` on; SplitPiece with `step`'s regex, handing
  // the parts to step `next`. `ascii`: the piece is known to be pure ASCII (false: unknown),
  // which lets the regexes run their faster ASCII programs. Both return false, with *error
  // set, once a regex gave up. (A bool and an out-parameter rather than an absl::Status:
  // they run once per piece, on the encode hot path.)
  bool Run(size_t step, std::string_view piece, bool ascii,
           absl::FunctionRef<void(std::string_view)> emit, absl::Status* error) const;
  bool SplitPiece(const Step& step, size_t next, std::string_view piece, bool ascii,
                  absl::FunctionRef<void(std::string_view)> emit, absl::Status* error) const;

  std::vector<Step> steps_;
};

}  // namespace r1serve::text
