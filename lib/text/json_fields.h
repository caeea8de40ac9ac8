// Reading tokenizer.json and tokenizer_config.json, which come from anywhere, without trusting
// their shape: field access that never throws, never inserts and never reads out of bounds,
// token ids checked against their range before they are narrowed, and the one limit on how
// deep Sequences (of normalizers, pre-tokenizers, post-processors) may nest.
//
//   const nlohmann::json& pattern = Field(step, "pattern");  // null unless an object holds it
//   if (!pattern.is_object()) return ...;
//   std::optional<TokenId> id = TokenIdFromJson(Field(entry, "id"));
//   if (!id) return BadTokenIdError(Field(entry, "id"), "added_tokens[3].id");
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "lib/text/tokenizer.h"
#include "nlohmann/json_fwd.hpp"

namespace r1serve::text {

// How deep Sequences may nest. Real files nest at most two levels; the limit keeps a hostile
// file from costing unbounded stack (the parsers recurse per level) or quadratic time.
inline constexpr int kMaxSequenceNesting = 64;

// obj[key], or a JSON null when `obj` is not an object or lacks the key.
const nlohmann::json& Field(const nlohmann::json& obj, std::string_view key);

// `value` as a token id, if it is an integer in [0, 2^31 - 1]. Not for anything else: a
// negative or larger number (which a plain get<int32_t>() would silently wrap), a float, a
// string.
std::optional<TokenId> TokenIdFromJson(const nlohmann::json& value);

// The InvalidArgument error for a `value` that TokenIdFromJson refused: it starts with
// `where` and shows the value when it is a number.
absl::Status BadTokenIdError(const nlohmann::json& value, std::string_view where);

}  // namespace r1serve::text
