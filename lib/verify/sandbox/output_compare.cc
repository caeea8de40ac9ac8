#include "lib/verify/sandbox/output_compare.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace r1serve::verify {
namespace {

constexpr size_t kShownChars = 120;
constexpr double kRelativeTolerance = 1e-6;
constexpr double kAbsoluteTolerance = 1e-9;

std::vector<absl::string_view> NormalizedLines(std::string_view text) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(text.data(), text.size()), '\n');
  for (absl::string_view& line : lines) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r' ||
                             line.back() == '\f' || line.back() == '\v')) {
      line.remove_suffix(1);
    }
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::string Shown(absl::string_view text) {
  std::string out;
  for (char c : text.substr(0, kShownChars)) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  if (text.size() > kShownChars) out += "...";
  return absl::StrCat("\"", out, "\"");
}

std::string ShownJson(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kShownChars) text = text.substr(0, kShownChars) + "...";
  return text;
}

}  // namespace

std::optional<std::string> CompareStdout(std::string_view expected, std::string_view got) {
  const std::vector<absl::string_view> want = NormalizedLines(expected);
  const std::vector<absl::string_view> have = NormalizedLines(got);
  const size_t common = std::min(want.size(), have.size());
  for (size_t i = 0; i < common; ++i) {
    if (want[i] != have[i]) {
      return absl::StrCat("expected ", Shown(want[i]), " got ", Shown(have[i]), " (line ", i + 1,
                          ")");
    }
  }
  if (want.size() == have.size()) return std::nullopt;
  if (want.size() > have.size()) {
    return absl::StrCat("expected ", Shown(want[common]), " got end of output (line ", common + 1,
                        ")");
  }
  return absl::StrCat("expected end of output got ", Shown(have[common]), " (line ", common + 1,
                      ")");
}

bool JsonValuesMatch(const nlohmann::json& expected, const nlohmann::json& got) {
  if (expected.is_number() && got.is_number()) {
    if (expected.is_number_integer() && got.is_number_integer()) {
      // Both fit a 64-bit integer: exact (doubles would lose digits past 2^53). The parser
      // reads non-negative numbers as unsigned and negative ones as signed.
      if (expected.is_number_unsigned() != got.is_number_unsigned()) return false;
      if (expected.is_number_unsigned()) return expected.get<uint64_t>() == got.get<uint64_t>();
      return expected.get<int64_t>() == got.get<int64_t>();
    }
    const double a = expected.get<double>();
    const double b = got.get<double>();
    const double diff = std::fabs(a - b);
    return diff <= kAbsoluteTolerance ||
           diff <= kRelativeTolerance * std::max(std::fabs(a), std::fabs(b));
  }
  if (expected.type() != got.type()) return false;
  if (expected.is_array()) {
    if (expected.size() != got.size()) return false;
    for (size_t i = 0; i < expected.size(); ++i) {
      if (!JsonValuesMatch(expected[i], got[i])) return false;
    }
    return true;
  }
  if (expected.is_object()) {
    if (expected.size() != got.size()) return false;
    for (const auto& [key, value] : expected.items()) {
      auto it = got.find(key);
      if (it == got.end() || !JsonValuesMatch(value, *it)) return false;
    }
    return true;
  }
  return expected == got;
}

std::optional<std::string> CompareJson(const nlohmann::json& expected, const nlohmann::json& got) {
  if (JsonValuesMatch(expected, got)) return std::nullopt;
  return absl::StrCat("expected ", ShownJson(expected), " got ", ShownJson(got));
}

}  // namespace r1serve::verify
