// How a program's output is judged against the expected one (the contract in reward.proto).
//
//   std::optional<std::string> diff = CompareStdout("3\n", "3  \n\n");  // nullopt: equal
//   ASSIGN_OR_RETURN(nlohmann::json expected, ParseJson(test.expected_return_json, "expected"));
//   std::optional<std::string> diff2 = CompareJson(expected, returned);
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace r1serve::verify {

// Stdio tests: equal after removing trailing whitespace from every line and trailing empty
// lines on both sides. nullopt when equal, else "expected \"...\" got \"...\" (line N)".
std::optional<std::string> CompareStdout(std::string_view expected, std::string_view got);

// Function-call tests: equal as JSON values; numbers within a relative tolerance of 1e-6 (and
// an absolute one of 1e-9 near zero), object key order ignored, true is not 1. nullopt when
// equal, else "expected <json> got <json>".
std::optional<std::string> CompareJson(const nlohmann::json& expected, const nlohmann::json& got);

// True when the JSON values are equal under CompareJson's rules.
bool JsonValuesMatch(const nlohmann::json& expected, const nlohmann::json& got);

}  // namespace r1serve::verify
