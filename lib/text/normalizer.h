// tokenizer.json's "normalizer": the Unicode normalization forms (NFC, NFD, NFKC, NFKD, via
// ICU) and Sequence of them (nested at most kMaxSequenceNesting deep). Other types are an
// InvalidArgument error naming the type.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> n, Normalizer::FromJson(json["normalizer"]));
//   std::string storage;
//   std::string_view nfc = n->Normalize(text, &storage);  // `text` itself when already normal
//
// Thread safety: immutable; Normalize may run on any number of threads.
#pragma once

#include <unicode/uversion.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

U_NAMESPACE_BEGIN
class Normalizer2;
U_NAMESPACE_END

namespace r1serve::text {

class Normalizer {
 public:
  // nullptr for a JSON null or a normalizer that changes nothing (an empty Sequence).
  static absl::StatusOr<std::unique_ptr<Normalizer>> FromJson(const nlohmann::json& json);

  // `text` (valid UTF-8) normalized: a view of `text` when nothing changes, else of *storage.
  std::string_view Normalize(std::string_view text, std::string* storage) const;

 private:
  struct Step {
    const icu::Normalizer2* form;
    // Text whose bytes are all below this is left unchanged by `form` (no code point under
    // U+0300, U+00C0, U+0080 resp. is touched by NFC, NFD, NFK*), so ICU is skipped for it.
    unsigned char unchanged_below;
  };
  explicit Normalizer(std::vector<Step> steps) : steps_(std::move(steps)) {}
  std::vector<Step> steps_;
};

}  // namespace r1serve::text
