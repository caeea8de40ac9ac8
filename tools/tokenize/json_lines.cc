#include "tools/tokenize/json_lines.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace r1serve::tools {
namespace {

constexpr size_t kReadBlock = 1 << 20;
constexpr size_t kFlushThreshold = 1 << 20;

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode Table 3-7), or 0 when the
// byte there does not start one.
size_t WellFormedLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) -> unsigned { return static_cast<unsigned char>(s[i + k]); };
  const size_t left = s.size() - i;
  const unsigned b0 = byte(0);
  if (b0 < 0x80) return 1;
  const auto cont = [&](size_t k, unsigned lo, unsigned hi) {
    return k < left && byte(k) >= lo && byte(k) <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const unsigned hi = b0 == 0xED ? 0x9F : 0xBF;  // ED A0..BF would be a surrogate
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
    const unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;  // nothing past U+10FFFF
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

// nlohmann::json reports parse errors only by exception (its non-throwing mode drops the
// message), so the exception is caught right here and turned into a Status.
absl::StatusOr<nlohmann::json> ParseJson(std::string_view line) {
  try {
    return nlohmann::json::parse(line.begin(), line.end());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.what()));
  }
}

}  // namespace

bool LineReader::Next(std::string_view* line) {
  while (true) {
    const char* begin = buffer_.data() + start_;
    const size_t available = buffer_.size() - start_;
    if (const void* nl = std::memchr(begin + scanned_, '\n', available - scanned_)) {
      const size_t length = static_cast<const char*>(nl) - begin;
      *line = std::string_view(begin, length);
      start_ += length + 1;
      scanned_ = 0;
      return true;
    }
    scanned_ = available;
    if (eof_) {
      if (available == 0) return false;
      *line = std::string_view(begin, available);
      start_ = buffer_.size();
      scanned_ = 0;
      return true;
    }
    buffer_.erase(0, start_);
    start_ = 0;
    if (before_read_) before_read_();
    const size_t old_size = buffer_.size();
    buffer_.resize(old_size + kReadBlock);
    ssize_t n;
    do {
      n = read(fd_, buffer_.data() + old_size, kReadBlock);
    } while (n < 0 && errno == EINTR);
    buffer_.resize(old_size + (n > 0 ? n : 0));
    if (n < 0) read_error_ = std::strerror(errno);
    if (n <= 0) eof_ = true;
  }
}

bool OutputWriter::MaybeFlush() { return buffer_.size() < kFlushThreshold || Flush(); }

bool OutputWriter::Flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += n;
  }
  buffer_.clear();
  return true;
}

absl::StatusOr<std::string> ParseTextLine(std::string_view line) {
  absl::StatusOr<nlohmann::json> json = ParseJson(line);
  if (!json.ok()) return json.status();
  if (!json->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON string, got a JSON ", json->type_name()));
  }
  return std::move(json->get_ref<std::string&>());
}

absl::StatusOr<std::vector<text::TokenId>> ParseIdsLine(std::string_view line) {
  absl::StatusOr<nlohmann::json> json = ParseJson(line);
  if (!json.ok()) return json.status();
  if (!json->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an object {\"ids\":[...]}, got a JSON ", json->type_name()));
  }
  const auto it = json->find("ids");
  if (it == json->end() || !it->is_array()) {
    return absl::InvalidArgumentError("expected an \"ids\" array");
  }
  std::vector<text::TokenId> ids;
  ids.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& value = (*it)[i];
    const bool in_range =
        (value.is_number_unsigned() &&
         value.get<uint64_t>() <= uint64_t{std::numeric_limits<text::TokenId>::max()}) ||
        (value.is_number_integer() && !value.is_number_unsigned() &&
         value.get<int64_t>() >= std::numeric_limits<text::TokenId>::min() &&
         value.get<int64_t>() <= std::numeric_limits<text::TokenId>::max());
    if (!in_range) {
      return absl::InvalidArgumentError(absl::StrCat("ids[", i, "] is ", value.dump(),
                                                     ", not an integer token id in 32-bit range"));
    }
    ids.push_back(static_cast<text::TokenId>(value.get<int64_t>()));
  }
  return ids;
}

bool IsValidUtf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    const size_t length = WellFormedLength(bytes, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void AppendJsonString(std::string_view bytes, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < bytes.size();) {
    const unsigned char c = bytes[i];
    if (c >= 0x80) {
      const size_t length = WellFormedLength(bytes, i);
      if (length == 0) {
        out->append("\xEF\xBF\xBD");
        ++i;
      } else {
        out->append(bytes.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

void AppendIdsLine(const std::vector<text::TokenId>& ids, std::string* out) {
  out->append("{\"ids\":[");
  char digits[16];
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out->push_back(',');
    const auto result = std::to_chars(digits, digits + sizeof(digits), ids[i]);
    out->append(digits, result.ptr);
  }
  out->append("]}\n");
}

void AppendErrorLine(size_t line_number, absl::string_view message, std::string* out) {
  out->append("{\"error\":");
  AppendJsonString(absl::StrCat("line ", line_number, ": ", message), out);
  out->append("}\n");
}

}  // namespace r1serve::tools
