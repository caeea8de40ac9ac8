#include "lib/text/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uniset.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/text/json_fields.h"

namespace r1serve::text {
namespace {

using Json = nlohmann::json;

// HF tokenizers normalizes with Unicode 9.0 data (its unicode-normalization-alignments crate);
// ICU knows later characters, whose decompositions and combining classes HF ignores (e.g. it
// leaves U+11935 U+11930 uncomposed and does not reorder U+1DF6). Restricting ICU to the
// characters assigned by 9.0 reproduces HF exactly: checked against the peer on every
// canonical decomposition and on every combining mark next to marks of other classes.
constexpr char kHfUnicodeAge[] = "[:age=9.0:]";

// ICU's form restricted to kHfUnicodeAge; characters outside it pass through unchanged and
// separate what is normalized, as unassigned characters do in HF's tables.
const icu::Normalizer2* HfForm(const icu::Normalizer2* form, UErrorCode& error) {
  static const icu::UnicodeSet* assigned = [] {
    UErrorCode e = U_ZERO_ERROR;
    auto* set = new icu::UnicodeSet(icu::UnicodeString(kHfUnicodeAge, -1, US_INV), e);
    if (U_FAILURE(e)) {
      delete set;
      return static_cast<icu::UnicodeSet*>(nullptr);
    }
    set->freeze();
    return set;
  }();
  if (assigned == nullptr) {
    error = U_MISSING_RESOURCE_ERROR;
    return nullptr;
  }
  return new icu::FilteredNormalizer2(*form, *assigned);  // one per form, kept for good
}

// `depth`: how many Sequences enclose `json`.
absl::Status AddSteps(const Json& json, const std::string& where, int depth,
                      std::vector<std::pair<const icu::Normalizer2*, unsigned char>>* steps) {
  const Json& type_json = Field(json, "type");
  if (!type_json.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no \"type\""));
  }
  const std::string& type = type_json.get_ref<const std::string&>();
  if (type == "Sequence") {
    if (depth == kMaxSequenceNesting) {
      return absl::InvalidArgumentError(absl::StrCat("normalizer: Sequences nest more than ",
                                                     kMaxSequenceNesting, " levels deep"));
    }
    const Json& list = Field(json, "normalizers");
    if (!list.is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".normalizers is not a list"));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      RETURN_IF_ERROR(
          AddSteps(list[i], absl::StrCat(where, ".normalizers[", i, "]"), depth + 1, steps));
    }
    return absl::OkStatus();
  }
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* form = nullptr;
  unsigned char unchanged_below = 0;
  if (type == "NFC") {
    static const icu::Normalizer2* nfc = HfForm(icu::Normalizer2::getNFCInstance(error), error);
    form = nfc;
    unchanged_below = 0xCC;  // lead byte of U+0300, the first combining mark
  } else if (type == "NFD") {
    static const icu::Normalizer2* nfd = HfForm(icu::Normalizer2::getNFDInstance(error), error);
    form = nfd;
    unchanged_below = 0xC3;  // lead byte of U+00C0, the first decomposable character
  } else if (type == "NFKC") {
    static const icu::Normalizer2* nfkc = HfForm(icu::Normalizer2::getNFKCInstance(error), error);
    form = nfkc;
    unchanged_below = 0x80;  // U+00A0 already has a compatibility decomposition
  } else if (type == "NFKD") {
    static const icu::Normalizer2* nfkd = HfForm(icu::Normalizer2::getNFKDInstance(error), error);
    form = nfkd;
    unchanged_below = 0x80;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": normalizer type \"", type,
                     "\" is unsupported (supported: NFC, NFD, NFKC, NFKD, Sequence)"));
  }
  if (form == nullptr || U_FAILURE(error)) {
    return absl::InternalError(absl::StrCat("ICU has no ", type, " data: ", u_errorName(error)));
  }
  steps->emplace_back(form, unchanged_below);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::FromJson(const Json& json) {
  if (json.is_null()) return nullptr;
  std::vector<std::pair<const icu::Normalizer2*, unsigned char>> found;
  RETURN_IF_ERROR(AddSteps(json, "normalizer", /*depth=*/0, &found));
  if (found.empty()) return nullptr;
  std::vector<Step> steps;
  for (const auto& [form, below] : found) steps.push_back({form, below});
  return std::unique_ptr<Normalizer>(new Normalizer(std::move(steps)));
}

std::string_view Normalizer::Normalize(std::string_view text, std::string* storage) const {
  auto max_byte = [](std::string_view s) {
    unsigned char m = 0;
    for (char c : s) m = std::max(m, static_cast<unsigned char>(c));
    return m;
  };
  std::string_view current = text;
  unsigned char current_max = max_byte(text);
  std::string scratch;
  for (const Step& step : steps_) {
    if (current_max < step.unchanged_below) continue;
    UErrorCode error = U_ZERO_ERROR;
    const icu::StringPiece piece(current.data(), static_cast<int32_t>(current.size()));
    if (step.form->isNormalizedUTF8(piece, error) && U_SUCCESS(error)) continue;
    error = U_ZERO_ERROR;
    scratch.clear();
    icu::StringByteSink<std::string> sink(&scratch, static_cast<int32_t>(current.size()));
    step.form->normalizeUTF8(0, piece, sink, nullptr, error);
    if (U_FAILURE(error)) continue;  // only on allocation failure: leave the text as it is
    storage->swap(scratch);
    current = *storage;
    current_max = max_byte(current);
  }
  return current;
}

}  // namespace r1serve::text
