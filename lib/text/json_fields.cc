#include "lib/text/json_fields.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"

namespace r1serve::text {

const nlohmann::json& Field(const nlohmann::json& obj, std::string_view key) {
  static const nlohmann::json* const null = new nlohmann::json();
  if (!obj.is_object()) return *null;
  auto it = obj.find(key);
  return it == obj.end() ? *null : *it;
}

namespace {
constexpr int64_t kMaxTokenId = std::numeric_limits<TokenId>::max();
}  // namespace

std::optional<TokenId> TokenIdFromJson(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t id = value.get<uint64_t>();
    if (id <= static_cast<uint64_t>(kMaxTokenId)) return static_cast<TokenId>(id);
  } else if (value.is_number_integer()) {
    const int64_t id = value.get<int64_t>();
    if (id >= 0 && id <= kMaxTokenId) return static_cast<TokenId>(id);
  }
  return std::nullopt;
}

absl::Status BadTokenIdError(const nlohmann::json& value, std::string_view where) {
  std::string shown;
  if (value.is_number_unsigned()) {
    shown = absl::StrCat(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    shown = absl::StrCat(value.get<int64_t>());
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(where), " is not an integer token id"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(where), " is ", shown, ", outside the token id range [0, ", kMaxTokenId, "]"));
}

}  // namespace r1serve::text
