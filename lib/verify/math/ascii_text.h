// ASCII character classes and trimming shared by the math verifier's scanners. Answers are
// UTF-8, but every character these scanners act on is ASCII; other bytes are never space,
// digit or letter here, so multi-byte characters pass through untouched.
#pragma once

#include <string_view>

namespace r1serve::verify::ascii {

inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace r1serve::verify::ascii
