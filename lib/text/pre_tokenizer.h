// tokenizer.json's "pre_tokenizer" for byte-level BPE: Split (regex or literal pattern, every
// split behaviour, invert), ByteLevel (add_prefix_space, use_regex) and Sequence of them, where
// each step splits every piece the previous step produced. The ByteLevel step must come last:
// it only re-spells bytes, which the BPE model does implicitly (see bpe_model.h), so the pieces
// handed out are raw UTF-8. Other types are an InvalidArgument error naming the type.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> pre,
//                    PreTokenizer::FromJson(json["pre_tokenizer"]));
//   pre->Split("Hello world", [](std::string_view piece) { ... });  // "Hello", " world"
//
// Thread safety: immutable; Split may run on any number of threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "lib/text/onig_regex.h"
#include "nlohmann/json_fwd.hpp"

namespace r1serve::text {

class PreTokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> FromJson(const nlohmann::json& json);

  // Calls `emit` with each non-empty pre-token of `text` (valid UTF-8), in order. The views
  // live until `emit` returns.
  void Split(std::string_view text, absl::FunctionRef<void(std::string_view)> emit) const;

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
  // `ascii`: the piece is known to be pure ASCII (false: unknown), which lets the regexes run
  // their faster ASCII programs.
  void Run(size_t step, std::string_view piece, bool ascii,
           absl::FunctionRef<void(std::string_view)> emit) const;
  void SplitPiece(const Step& step, size_t next, std::string_view piece, bool ascii,
                  absl::FunctionRef<void(std::string_view)> emit) const;

  std::vector<Step> steps_;
};

}  // namespace r1serve::text
