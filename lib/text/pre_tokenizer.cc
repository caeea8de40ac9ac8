#include "lib/text/pre_tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/text/json_fields.h"
#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

using Json = nlohmann::json;
using Behavior = PreTokenizer::Behavior;

// ByteLevel's own split when use_regex is on: GPT-2's pattern, as HF tokenizers has it.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

absl::StatusOr<bool> OptionalBool(const Json& json, const char* key, bool fallback,
                                  const std::string& where) {
  const Json& value = Field(json, key);
  if (value.is_null()) return fallback;
  if (!value.is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " is not a boolean"));
  }
  return value.get<bool>();
}

absl::StatusOr<Behavior> ParseBehavior(const Json& json, const std::string& where) {
  static constexpr std::pair<std::string_view, Behavior> kNames[] = {
      {"Removed", Behavior::kRemoved},
      {"Isolated", Behavior::kIsolated},
      {"MergedWithPrevious", Behavior::kMergedWithPrevious},
      {"MergedWithNext", Behavior::kMergedWithNext},
      {"Contiguous", Behavior::kContiguous},
  };
  if (!json.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".behavior is missing or not a string"));
  }
  const std::string& spelled = json.get_ref<const std::string&>();
  for (const auto& [name, behavior] : kNames) {
    if (spelled == name) return behavior;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ".behavior \"", spelled, "\" is not a split behavior"));
}

// One (offsets, is_match) entry of HF's find_matches, byte offsets into the piece.
struct Segment {
  size_t begin;
  size_t end;
  bool flag;  // before the behavior: is a match; after: is removed
};

// HF's behaviours over the find_matches list (it covers the whole piece, empty matches
// included); afterwards `flag` means "drop this segment".
void ApplyBehavior(Behavior behavior, std::vector<Segment>* segments) {
  std::vector<Segment>& in = *segments;
  std::vector<Segment> out;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kRemoved:
      return;
    case Behavior::kIsolated:
      for (Segment& s : in) s.flag = false;
      return;
    case Behavior::kContiguous:
      for (const Segment& s : in) {
        if (s.flag == previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.begin, s.end, false});
        }
        previous_match = s.flag;
      }
      break;
    case Behavior::kMergedWithPrevious:
      for (const Segment& s : in) {
        if (s.flag && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.begin, s.end, false});
        }
        previous_match = s.flag;
      }
      break;
    case Behavior::kMergedWithNext:
      for (auto it = in.rbegin(); it != in.rend(); ++it) {
        if (it->flag && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back({it->begin, it->end, false});
        }
        previous_match = it->flag;
      }
      std::reverse(out.begin(), out.end());
      break;
  }
  *segments = std::move(out);
}

// Oniguruma's find_iter as the Rust binding drives it (what HF's Split uses): an empty match
// right where the previous match ended is skipped by stepping one character. Stops, returning
// false, when the regex gives up (*error then says why) or `on_match` returns false.
template <typename OnMatch>
bool ForEachMatch(const OnigRegex& regex, std::string_view piece, bool ascii, absl::Status* error,
                  OnMatch&& on_match) {
  size_t search_from = 0;
  bool matched_before = false;
  size_t last_match_end = 0;
  size_t begin, end;
  while (search_from <= piece.size() &&
         regex.Find(piece, search_from, ascii, &begin, &end, error)) {
    if (begin == end && matched_before && last_match_end == end) {
      if (search_from >= piece.size()) break;
      size_t subpart;
      search_from +=
          std::max<size_t>(1, WellFormedSequenceLength(piece.substr(search_from), &subpart));
      continue;
    }
    if (!on_match(begin, end)) return false;
    search_from = end;
    matched_before = true;
    last_match_end = end;
  }
  return error->ok();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::FromJson(const Json& json) {
  if (json.is_null()) {
    return absl::InvalidArgumentError(
        "no pre_tokenizer: byte-level BPE needs a ByteLevel pre-tokenizer");
  }
  auto pre = std::unique_ptr<PreTokenizer>(new PreTokenizer());
  bool has_byte_level = false;
  RETURN_IF_ERROR(pre->AddSteps(json, "pre_tokenizer", /*depth=*/0, &has_byte_level));
  if (!has_byte_level) {
    return absl::InvalidArgumentError(
        "pre_tokenizer has no ByteLevel step: only byte-level BPE is supported");
  }
  return pre;
}

absl::Status PreTokenizer::AddSteps(const Json& json, const std::string& where, int depth,
                                    bool* has_byte_level) {
  const Json& type_json = Field(json, "type");
  if (!type_json.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no \"type\""));
  }
  const std::string& type = type_json.get_ref<const std::string&>();
  if (type == "Sequence") {  // flattened: each step splits every piece of the step before it
    if (depth == kMaxSequenceNesting) {
      return absl::InvalidArgumentError(absl::StrCat("pre_tokenizer: Sequences nest more than ",
                                                     kMaxSequenceNesting, " levels deep"));
    }
    const Json& list = Field(json, "pretokenizers");
    if (!list.is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".pretokenizers is not a list"));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      RETURN_IF_ERROR(AddSteps(list[i], absl::StrCat(where, ".pretokenizers[", i, "]"), depth + 1,
                               has_byte_level));
    }
    return absl::OkStatus();
  }
  if (*has_byte_level) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " (", type, ") comes after ByteLevel, which must be the last pre-tokenizer"));
  }
  if (steps_.size() == kMaxSteps) {
    return absl::InvalidArgumentError(
        absl::StrCat("pre_tokenizer has more than ", kMaxSteps, " steps"));
  }
  Step step;
  if (type == "Split") {
    const Json& regex = Field(Field(json, "pattern"), "Regex");
    const Json& literal = Field(Field(json, "pattern"), "String");
    if (regex.is_string()) {
      ASSIGN_OR_RETURN(step.regex, OnigRegex::Compile(regex.get_ref<const std::string&>()));
    } else if (literal.is_string()) {
      ASSIGN_OR_RETURN(step.regex, OnigRegex::Literal(literal.get_ref<const std::string&>()));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".pattern is neither {\"Regex\": ...} nor {\"String\": ...}"));
    }
    ASSIGN_OR_RETURN(step.behavior, ParseBehavior(Field(json, "behavior"), where));
    ASSIGN_OR_RETURN(step.invert, OptionalBool(json, "invert", false, where));
  } else if (type == "ByteLevel") {
    *has_byte_level = true;
    // HF's defaults when the keys are absent: add_prefix_space and use_regex both true.
    ASSIGN_OR_RETURN(step.add_prefix_space, OptionalBool(json, "add_prefix_space", true, where));
    ASSIGN_OR_RETURN(bool use_regex, OptionalBool(json, "use_regex", true, where));
    if (use_regex) {
      ASSIGN_OR_RETURN(step.regex, OnigRegex::Compile(kGpt2Pattern));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": pre-tokenizer type \"", type,
                     "\" is unsupported (supported: Split, ByteLevel, Sequence)"));
  }
  steps_.push_back(std::move(step));
  return absl::OkStatus();
}

absl::Status PreTokenizer::Split(std::string_view text,
                                 absl::FunctionRef<void(std::string_view)> emit) const {
  absl::Status error;
  Run(0, text, IsAscii(text), emit, &error);
  return error;
}

bool PreTokenizer::Run(size_t index, std::string_view piece, bool ascii,
                       absl::FunctionRef<void(std::string_view)> emit, absl::Status* error) const {
  if (piece.empty()) return true;
  if (index == steps_.size()) {
    emit(piece);
    return true;
  }
  const Step& step = steps_[index];
  if (step.add_prefix_space && piece[0] != ' ') {
    const std::string spaced = " " + std::string(piece);
    return step.regex ? SplitPiece(step, index + 1, spaced, ascii, emit, error)
                      : Run(index + 1, spaced, ascii, emit, error);
  }
  return step.regex ? SplitPiece(step, index + 1, piece, ascii, emit, error)
                    : Run(index + 1, piece, ascii, emit, error);
}

bool PreTokenizer::SplitPiece(const Step& step, size_t next, std::string_view piece, bool ascii,
                              absl::FunctionRef<void(std::string_view)> emit,
                              absl::Status* error) const {
  // Parts of an ASCII piece are ASCII; parts of another are left for the next step to check.
  ascii = ascii || IsAscii(piece);
  if (step.behavior == Behavior::kIsolated && !step.invert) {
    // The common case streams: gaps and matches alike become pieces, in order.
    size_t previous_end = 0;
    return ForEachMatch(*step.regex, piece, ascii, error,
                        [&](size_t begin, size_t end) {
                          if (!Run(next, piece.substr(previous_end, begin - previous_end), ascii,
                                   emit, error) ||
                              !Run(next, piece.substr(begin, end - begin), ascii, emit, error)) {
                            return false;
                          }
                          previous_end = end;
                          return true;
                        }) &&
           Run(next, piece.substr(previous_end), ascii, emit, error);
  }
  std::vector<Segment> segments;
  size_t previous_end = 0;
  if (!ForEachMatch(*step.regex, piece, ascii, error, [&](size_t begin, size_t end) {
        if (previous_end != begin) segments.push_back({previous_end, begin, step.invert});
        segments.push_back({begin, end, !step.invert});
        previous_end = end;
        return true;
      })) {
    return false;
  }
  if (previous_end != piece.size()) {
    segments.push_back({previous_end, piece.size(), step.invert});
  }
  ApplyBehavior(step.behavior, &segments);
  for (const Segment& s : segments) {
    if (!s.flag && !Run(next, piece.substr(s.begin, s.end - s.begin), ascii, emit, error)) {
      return false;
    }
  }
  return true;
}

}  // namespace r1serve::text
