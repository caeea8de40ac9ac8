// Finds the program in a model's answer: the last fenced code block.
//
//   std::optional<std::string> code = ExtractLastCodeBlock("Here:\n```python\nprint(1)\n```\n");
//   // code == "print(1)\n"
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace r1serve::verify {

// The body of the last complete fenced block (a line opening with three or more backticks and
// an optional info string such as "python", closed by a line of at least as many backticks).
// nullopt when the text has no complete block (an unclosed fence, e.g. a truncated answer,
// does not count).
std::optional<std::string> ExtractLastCodeBlock(std::string_view answer_text);

}  // namespace r1serve::verify
