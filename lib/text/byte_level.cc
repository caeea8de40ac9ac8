#include "lib/text/byte_level.h"

#include <array>

#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

constexpr bool StandsForItself(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

constexpr char32_t kAlphabetEnd = 0x144;  // every alphabet character is below U+0144

struct Alphabet {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, kAlphabetEnd> to_byte{};
  std::array<std::array<char, 2>, 256> utf8{};  // each character is one or two UTF-8 bytes
  std::array<uint8_t, 256> utf8_length{};
};

constexpr Alphabet MakeAlphabet() {
  Alphabet a;
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) a.to_char[b] = StandsForItself(b) ? char32_t(b) : next++;
  for (auto& v : a.to_byte) v = -1;
  for (int b = 0; b < 256; ++b) {
    const char32_t c = a.to_char[b];
    a.to_byte[c] = static_cast<int16_t>(b);
    if (c < 0x80) {
      a.utf8[b] = {static_cast<char>(c), 0};
      a.utf8_length[b] = 1;
    } else {
      a.utf8[b] = {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
      a.utf8_length[b] = 2;
    }
  }
  return a;
}

constexpr Alphabet kAlphabet = MakeAlphabet();

}  // namespace

char32_t ByteLevelChar(uint8_t byte) { return kAlphabet.to_char[byte]; }

int ByteLevelByte(char32_t c) { return c < kAlphabetEnd ? kAlphabet.to_byte[c] : -1; }

void AppendByteLevel(std::string_view raw, std::string* out) {
  for (unsigned char b : raw) out->append(kAlphabet.utf8[b].data(), kAlphabet.utf8_length[b]);
}

bool ByteLevelToBytes(std::string_view token, std::string* out) {
  if (ValidUtf8Prefix(token) != token.size()) return false;
  for (size_t i = 0; i < token.size();) {
    size_t n;
    const int b = ByteLevelByte(DecodeUtf8(token.substr(i), &n));
    if (b < 0) return false;
    out->push_back(static_cast<char>(b));
    i += n;
  }
  return true;
}

}  // namespace r1serve::text
