#include "lib/verify/format_verifier.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/verify/response_shape.h"

namespace r1serve::verify {
namespace {

// "" when the opening is right, else why not.
std::string OpeningProblem(const ResponseShape& shape, bool starts_in_reasoning) {
  if (starts_in_reasoning) {
    if (shape.open_tags == 0) return "";
    return "<think> in a completion whose prompt already opened the block";
  }
  if (shape.open_tags == 0) return "missing <think>";
  if (shape.open_tags > 1) return absl::StrCat(shape.open_tags, " <think> tags");
  if (!IsBlank(shape.before_open)) return "text before <think>";
  return "";
}

std::string ClosingProblem(std::string_view response, const ResponseShape& shape) {
  if (shape.close_tags == 0) return "missing </think>";
  if (shape.close_tags > 1) return absl::StrCat(shape.close_tags, " </think> tags");
  const size_t open = response.find(kThinkOpen);
  if (open != std::string_view::npos && response.find(kThinkClose) < open) {
    return "</think> before <think>";
  }
  return "";
}

// Without a "</think>" there is no answer, only unfinished reasoning.
std::string AnswerProblem(const ResponseShape& shape) {
  if (shape.close_tags == 0) return "no answer after a closed block";
  if (IsBlank(shape.answer)) return "empty answer after </think>";
  return "";
}

}  // namespace

FormatVerdict VerifyFormat(std::string_view response, bool starts_in_reasoning,
                           const FormatOptions& options) {
  const ResponseShape shape = ParseResponseShape(response, starts_in_reasoning);
  std::vector<std::string> problems;
  int passed = 0;
  for (std::string problem : {OpeningProblem(shape, starts_in_reasoning),
                              ClosingProblem(response, shape), AnswerProblem(shape)}) {
    if (problem.empty()) {
      ++passed;
    } else {
      problems.push_back(std::move(problem));
    }
  }
  FormatVerdict verdict;
  if (problems.empty()) {
    verdict.reward = 1;
    verdict.reason = "R1 format";
    return verdict;
  }
  verdict.reward = options.partial_credit ? passed / 3.0 : 0.0;
  verdict.reason = absl::StrJoin(problems, "; ");
  if (options.partial_credit) absl::StrAppend(&verdict.reason, " (", passed, " of 3 checks pass)");
  return verdict;
}

}  // namespace r1serve::verify
