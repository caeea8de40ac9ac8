// UTF-8 helpers shared by the tokenizer: decoding one scalar value, encoding one, validation and
// Rust-compatible lossy repair (String::from_utf8_lossy, which HF tokenizers' decode ends with).
//
//   std::string out;
//   AppendUtf8Lossy("a\xF0\x9F\x98", &out);  // "a\uFFFD": one U+FFFD per maximal invalid subpart
//   size_t n = ValidUtf8Prefix(text);        // == text.size() iff text is valid UTF-8
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace r1serve::text {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// True when every byte is below 0x80.
bool IsAscii(std::string_view bytes);

// Length of the longest well-formed prefix of `bytes` that ends on a scalar boundary.
size_t ValidUtf8Prefix(std::string_view bytes);

// Length of the well-formed UTF-8 sequence starting at bytes[0] (1-4), or 0 when bytes[0]
// starts no well-formed sequence. In the 0 case *subpart_length receives the length of the
// maximal subpart (at least 1): the bytes that one U+FFFD replaces in lossy decoding.
size_t WellFormedSequenceLength(std::string_view bytes, size_t* subpart_length);

// Decodes the scalar value at the start of well-formed UTF-8 `bytes` and its length.
// Precondition: bytes non-empty and starting with a well-formed sequence.
char32_t DecodeUtf8(std::string_view bytes, size_t* length);

void AppendUtf8(char32_t code_point, std::string* out);

// Appends `bytes` with each maximal invalid subpart replaced by U+FFFD (Unicode's "substitution
// of maximal subparts", which is what Rust's String::from_utf8_lossy does).
void AppendUtf8Lossy(std::string_view bytes, std::string* out);

// Rust's String::from_utf8_lossy: valid UTF-8 copied, each maximal invalid subpart replaced
// by U+FFFD.
std::string Utf8Lossy(std::string_view bytes);

}  // namespace r1serve::text
