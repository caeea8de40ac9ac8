#include "lib/verify/sandbox/code_block.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace r1serve::verify {
namespace {

// Number of backticks opening `line` after up to three spaces of indentation (0 if fewer than
// three).
size_t FenceLength(absl::string_view line) {
  size_t indent = 0;
  while (indent < line.size() && indent < 3 && line[indent] == ' ') ++indent;
  size_t n = 0;
  while (indent + n < line.size() && line[indent + n] == '`') ++n;
  return n >= 3 ? n : 0;
}

}  // namespace

std::optional<std::string> ExtractLastCodeBlock(std::string_view answer_text) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(answer_text.data(), answer_text.size()), '\n');
  std::optional<std::string> last;
  size_t open_fence = 0;  // backticks of the open fence; 0 outside a block
  std::string body;
  for (absl::string_view line : lines) {
    const size_t fence = FenceLength(line);
    if (open_fence == 0) {
      if (fence == 0) continue;
      absl::string_view info = absl::StripAsciiWhitespace(line);
      info.remove_prefix(fence);
      if (info.find('`') != absl::string_view::npos) continue;  // inline code, not a fence
      open_fence = fence;
      body.clear();
      continue;
    }
    if (fence >= open_fence && absl::StripAsciiWhitespace(line).size() == fence) {
      last = body;
      open_fence = 0;
      continue;
    }
    body.append(line.data(), line.size());
    body.push_back('\n');
  }
  return last;
}

}  // namespace r1serve::verify
