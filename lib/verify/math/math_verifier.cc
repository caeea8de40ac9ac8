#include "lib/verify/math/math_verifier.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/verify/math/answer_extraction.h"
#include "lib/verify/math/latex_normalizer.h"
#include "lib/verify/math/math_answer.h"
#include "lib/verify/math/math_equivalence.h"
#include "lib/verify/math/work_budget.h"

namespace r1serve::verify {
namespace {

// Debian's Abseil has its own string_view type.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// A quoted excerpt for reasons: at most 120 bytes.
std::string Quote(std::string_view s) {
  if (s.size() <= 120) return absl::StrCat("\"", AbslView(s), "\"");
  return absl::StrCat("\"", AbslView(s.substr(0, 117)), "...\" (", s.size(), " bytes)");
}

std::string Describe(const char* side, const NormalizedAnswer& n) {
  std::string out = absl::StrCat(side, " normalised to ", Quote(n.text));
  if (!n.notes.empty()) absl::StrAppend(&out, " (", absl::StrJoin(n.notes, ", "), ")");
  return out;
}

struct Side {
  NormalizedAnswer normalized;
  absl::StatusOr<MathAnswer> parsed = absl::UnknownError("not parsed");
};

Side Prepare(std::string_view raw, const MathVerifierOptions& options, WorkBudget* budget) {
  Side side;
  side.normalized = NormalizeLatexAnswer(raw);
  side.parsed =
      ParseMathAnswer(side.normalized.text, side.normalized.text_wrapped, options, budget);
  return side;
}

class Verification {
 public:
  Verification(const MathVerifierOptions& options, absl::Time deadline)
      : options_(options), budget_(deadline), checker_(options, &budget_) {}

  MathVerdict Run(std::string_view response, std::string_view reference) {
    MathVerdict verdict;
    if (!budget_.Check().ok()) return Timeout(verdict, "before starting");
    ExtractedAnswer found = ExtractFinalAnswer(
        response,
        {.max_tail_bytes = options_.max_tail_bytes, .max_answer_bytes = options_.max_answer_bytes});
    if (reference.size() > options_.max_answer_bytes) {
      verdict.status = MathStatus::kUnparseableReference;
      verdict.reason = absl::StrCat("reference longer than ", options_.max_answer_bytes, " bytes");
      return verdict;
    }
    Side ref = Prepare(reference, options_, &budget_);
    if (absl::IsDeadlineExceeded(ref.parsed.status()))
      return Timeout(verdict, "parsing the reference");
    if (ref.normalized.text.empty()) {
      verdict.status = MathStatus::kUnparseableReference;
      verdict.reason = "reference is empty";
      return verdict;
    }
    if (found.candidates.empty()) {
      verdict.status = MathStatus::kNoAnswer;
      verdict.reason = "no final answer found (no \\boxed{}, \"answer is\", \"####\" or number)";
      return verdict;
    }
    // Distinct answers, by normalised text, then by equivalence.
    std::vector<Side> answers;
    std::vector<std::string> raw_answers;
    for (const std::string& candidate : found.candidates) {
      NormalizedAnswer n = NormalizeLatexAnswer(candidate);
      bool seen = false;
      for (const Side& s : answers) seen = seen || s.normalized.text == n.text;
      if (seen) continue;
      answers.push_back(Prepare(candidate, options_, &budget_));
      raw_answers.push_back(candidate);
      if (absl::IsDeadlineExceeded(answers.back().parsed.status())) {
        return Timeout(verdict, "parsing the answer");
      }
    }
    std::string how = found.candidates.size() > 1
                          ? absl::StrCat(found.candidates.size(), " boxed answers")
                          : found.method;
    verdict.extracted_answer = raw_answers.back();
    if (answers.size() > 1) {
      absl::StatusOr<bool> agree = AllAgree(answers);
      if (!agree.ok()) return Timeout(verdict, "comparing the boxed answers");
      if (*agree) {
        answers.erase(answers.begin(), answers.end() - 1);
      } else {
        return Hedged(verdict, raw_answers, ref, how);
      }
    }
    std::string prefix = absl::StrCat("extracted ", Quote(verdict.extracted_answer), " (", how,
                                      "); ", Describe("answer", answers[0].normalized), "; ",
                                      Describe("reference", ref.normalized), "; ");
    return Judge(verdict, answers[0], ref, prefix);
  }

 private:
  MathVerdict Timeout(MathVerdict verdict, std::string_view stage) {
    verdict.status = MathStatus::kTimeout;
    verdict.reason = absl::StrCat("verification ran past its deadline while ", AbslView(stage));
    return verdict;
  }

  // Whether every parsed answer equals the first.
  absl::StatusOr<bool> AllAgree(const std::vector<Side>& answers) {
    if (!answers[0].parsed.ok()) return false;
    for (size_t k = 1; k < answers.size(); ++k) {
      if (!answers[k].parsed.ok()) return false;
      absl::StatusOr<Equivalence> eq = checker_.Compare(*answers[k].parsed, *answers[0].parsed);
      if (absl::IsDeadlineExceeded(eq.status())) return eq.status();
      if (!eq.ok() || !eq->equal) return false;
    }
    return true;
  }

  // Several different boxed answers: wrong, unless together they are the reference's list.
  MathVerdict Hedged(MathVerdict verdict, const std::vector<std::string>& raw, const Side& ref,
                     const std::string& how) {
    std::vector<std::string> texts;
    for (const std::string& r : raw) texts.push_back(NormalizeLatexAnswer(r).text);
    std::string joined = absl::StrJoin(texts, ", ");
    verdict.extracted_answer = absl::StrJoin(raw, ", ");
    if (ref.parsed.ok() &&
        (ref.parsed->kind == MathAnswer::Kind::kList ||
         ref.parsed->kind == MathAnswer::Kind::kSet) &&
        ref.parsed->items.size() == raw.size()) {
      absl::StatusOr<MathAnswer> together = ParseMathAnswer(joined, false, options_, &budget_);
      if (together.ok()) {
        absl::StatusOr<Equivalence> eq = checker_.Compare(*together, *ref.parsed);
        if (absl::IsDeadlineExceeded(eq.status())) return Timeout(verdict, "comparing");
        if (eq.ok() && eq->equal) {
          verdict.status = MathStatus::kCorrect;
          verdict.reason = absl::StrCat(how, " together equal the reference list ",
                                        Quote(ref.normalized.text), ": ", eq->why);
          return verdict;
        }
      }
    }
    verdict.status = MathStatus::kWrong;
    verdict.reason = absl::StrCat(how, " that differ (hedging): ", Quote(joined), "; reference ",
                                  Quote(ref.normalized.text));
    return verdict;
  }

  MathVerdict Judge(MathVerdict verdict, const Side& answer, const Side& ref,
                    const std::string& prefix) {
    if (answer.normalized.text == ref.normalized.text && !answer.normalized.text.empty()) {
      verdict.status = MathStatus::kCorrect;
      verdict.reason = prefix + "identical after normalisation";
      return verdict;
    }
    if (!ref.parsed.ok()) {
      verdict.status = MathStatus::kUnparseableReference;
      verdict.reason =
          absl::StrCat(prefix, "reference could not be parsed: ", ref.parsed.status().message());
      return verdict;
    }
    if (ref.parsed->kind == MathAnswer::Kind::kChoice) {
      char letter = LeadingChoiceLetter(answer.normalized.text);
      bool same = letter != 0 && std::string(1, letter) == ref.parsed->text;
      verdict.status = same ? MathStatus::kCorrect : MathStatus::kWrong;
      verdict.reason =
          absl::StrCat(prefix, "reference is choice ", ref.parsed->text, "; ",
                       letter == 0 ? "answer names no choice letter"
                                   : absl::StrCat("answer is choice ", std::string(1, letter)));
      return verdict;
    }
    if (!answer.parsed.ok()) {
      verdict.status = MathStatus::kWrong;
      verdict.reason =
          absl::StrCat(prefix, "answer could not be parsed: ", answer.parsed.status().message());
      return verdict;
    }
    absl::StatusOr<Equivalence> eq = checker_.Compare(*answer.parsed, *ref.parsed);
    if (absl::IsDeadlineExceeded(eq.status())) return Timeout(verdict, "comparing");
    if (eq.ok() && !eq->equal && ref.normalized.percent && !answer.normalized.percent &&
        answer.parsed->kind == MathAnswer::Kind::kExpression &&
        ref.parsed->kind == MathAnswer::Kind::kExpression) {
      // The reference is a percentage: 0.28 may stand for 28%.
      MathAnswer scaled = *answer.parsed;
      scaled.expr = MakeNode(Expr::Kind::kMul, {scaled.expr, MakeNumber(100)});
      absl::StatusOr<Equivalence> as_percent = checker_.Compare(scaled, *ref.parsed);
      if (absl::IsDeadlineExceeded(as_percent.status())) return Timeout(verdict, "comparing");
      if (as_percent.ok() && as_percent->equal) {
        eq = Equivalence{true, "as a fraction of the reference percentage: " + as_percent->why};
      }
    }
    if (!eq.ok()) {
      verdict.status = MathStatus::kWrong;
      verdict.reason = absl::StrCat(prefix, "could not compare: ", eq.status().message());
      return verdict;
    }
    verdict.status = eq->equal ? MathStatus::kCorrect : MathStatus::kWrong;
    verdict.reason = absl::StrCat(prefix, MathAnswerToString(*answer.parsed), " vs ",
                                  MathAnswerToString(*ref.parsed), ": ", eq->why);
    return verdict;
  }

  const MathVerifierOptions& options_;
  WorkBudget budget_;
  EquivalenceChecker checker_;
};

}  // namespace

const char* MathStatusName(MathStatus status) {
  switch (status) {
    case MathStatus::kCorrect:
      return "correct";
    case MathStatus::kWrong:
      return "wrong";
    case MathStatus::kNoAnswer:
      return "no answer";
    case MathStatus::kUnparseableReference:
      return "unparseable reference";
    case MathStatus::kTimeout:
      return "timeout";
  }
  return "unknown";
}

MathVerdict VerifyMathAnswer(std::string_view response, std::string_view reference,
                             absl::Time deadline, const MathVerifierOptions& options) {
  Verification verification(options, deadline);
  return verification.Run(response, reference);
}

}  // namespace r1serve::verify
