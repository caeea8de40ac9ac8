#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

// Allowed range of the second byte for each lead byte (Unicode Table 3-7); later continuation
// bytes are always 0x80..0xBF.
struct LeadInfo {
  uint8_t length;  // 0: not a lead byte
  uint8_t second_lo;
  uint8_t second_hi;
};

constexpr LeadInfo Lead(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

}  // namespace

size_t WellFormedSequenceLength(std::string_view bytes, size_t* subpart_length) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const LeadInfo lead = Lead(p[0]);
  if (lead.length == 0) {
    *subpart_length = 1;
    return 0;
  }
  for (size_t i = 1; i < lead.length; ++i) {
    const uint8_t lo = i == 1 ? lead.second_lo : 0x80;
    const uint8_t hi = i == 1 ? lead.second_hi : 0xBF;
    if (i >= bytes.size() || p[i] < lo || p[i] > hi) {
      *subpart_length = i;
      return 0;
    }
  }
  return lead.length;
}

bool IsAscii(std::string_view bytes) {
  size_t i = 0;
  uint64_t any = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    __builtin_memcpy(&word, bytes.data() + i, 8);
    any |= word;
  }
  for (; i < bytes.size(); ++i) any |= static_cast<uint8_t>(bytes[i]);
  return (any & 0x8080808080808080ull) == 0;
}

size_t ValidUtf8Prefix(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    // ASCII runs dominate real text: skip them eight bytes at a time.
    while (i + 8 <= bytes.size()) {
      uint64_t word;
      __builtin_memcpy(&word, bytes.data() + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= bytes.size()) break;
    if (static_cast<uint8_t>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t subpart;
    const size_t n = WellFormedSequenceLength(bytes.substr(i), &subpart);
    if (n == 0) return i;
    i += n;
  }
  return bytes.size();
}

char32_t DecodeUtf8(std::string_view bytes, size_t* length) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (p[0] < 0x80) {
    *length = 1;
    return p[0];
  }
  if (p[0] < 0xE0) {
    *length = 2;
    return (char32_t{p[0] & 0x1Fu} << 6) | (p[1] & 0x3F);
  }
  if (p[0] < 0xF0) {
    *length = 3;
    return (char32_t{p[0] & 0x0Fu} << 12) | (char32_t{p[1] & 0x3Fu} << 6) | (p[2] & 0x3F);
  }
  *length = 4;
  return (char32_t{p[0] & 0x07u} << 18) | (char32_t{p[1] & 0x3Fu} << 12) |
         (char32_t{p[2] & 0x3Fu} << 6) | (p[3] & 0x3F);
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void AppendUtf8Lossy(std::string_view bytes, std::string* out) {
  out->reserve(out->size() + bytes.size());
  while (!bytes.empty()) {
    const size_t valid = ValidUtf8Prefix(bytes);
    out->append(bytes.data(), valid);
    bytes.remove_prefix(valid);
    if (bytes.empty()) break;
    size_t subpart;
    WellFormedSequenceLength(bytes, &subpart);
    AppendUtf8(kReplacementChar, out);
    bytes.remove_prefix(subpart);
  }
}

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  AppendUtf8Lossy(bytes, &out);
  return out;
}

}  // namespace r1serve::text
