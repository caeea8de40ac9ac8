#include "lib/text/stream_detokenizer.h"

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

// Where the trailing sequence of `bytes` starts when that sequence is a proper prefix of a
// well-formed UTF-8 character (so that the next bytes may complete it); bytes.size() otherwise.
// `bytes` must start at a character boundary. The walk steps over characters and maximal invalid
// subparts exactly as lossy decoding of the whole text does, so the cut is one of its boundaries.
size_t IncompleteTailStart(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const std::string_view rest = bytes.substr(i);
    size_t subpart = 0;
    const size_t length = WellFormedSequenceLength(rest, &subpart);
    if (length > 0) {
      i += length;
      continue;
    }
    // A subpart that runs into the end is cut short, unless it is a byte that starts no
    // character at all (0x80..0xC1, 0xF5..0xFF), which is invalid whatever follows.
    const auto lead = static_cast<unsigned char>(rest[0]);
    if (subpart == rest.size() && lead >= 0xC2 && lead <= 0xF4) return i;
    i += subpart;
  }
  return bytes.size();
}

}  // namespace

StreamDetokenizer::StreamDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_tokens_(skip_special_tokens) {}

absl::StatusOr<std::string> StreamDetokenizer::Push(TokenId id) {
  return Push(std::span<const TokenId>(&id, 1));
}

absl::StatusOr<std::string> StreamDetokenizer::Push(std::span<const TokenId> ids) {
  for (TokenId id : ids) {
    if (!tokenizer_->IsValidId(id)) {
      return absl::OutOfRangeError(absl::StrCat("token id ", id, " is outside the vocabulary [0, ",
                                                tokenizer_->VocabSize(), ")"));
    }
  }
  for (TokenId id : ids) pending_.append(tokenizer_->TokenBytes(id, skip_special_tokens_));
  const size_t cut = IncompleteTailStart(pending_);
  std::string text = Utf8Lossy(std::string_view(pending_).substr(0, cut));
  pending_.erase(0, cut);
  return text;
}

std::string StreamDetokenizer::Finish() {
  std::string text = Utf8Lossy(pending_);
  pending_.clear();
  return text;
}

}  // namespace r1serve::text
