// GPT-2's byte-level alphabet: each of the 256 byte values stands for one printable Unicode
// character ('!'..'~', '¡'..'¬', '®'..'ÿ' stand for themselves; the other 68 bytes, in order,
// for U+0100..U+0143, so a space is 'Ġ'). Byte-level BPE vocabularies are written in it.
//
//   std::string token;
//   AppendByteLevel(" the", &token);              // "Ġthe"
//   std::string raw;
//   bool ok = ByteLevelToBytes("Ġthe", &raw);     // ok, raw == " the"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace r1serve::text {

char32_t ByteLevelChar(uint8_t byte);

// The byte `c` stands for, or -1 when `c` is not in the alphabet.
int ByteLevelByte(char32_t c);

// Appends the byte-level spelling (UTF-8) of raw bytes.
void AppendByteLevel(std::string_view raw, std::string* out);

// Appends the raw bytes a byte-level token stands for. False (out unspecified) when `token`
// is not valid UTF-8 or holds a character outside the alphabet.
bool ByteLevelToBytes(std::string_view token, std::string* out);

}  // namespace r1serve::text
