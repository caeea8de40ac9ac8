// Math answer verifier: judges whether a model's final answer equals a reference answer, the way
// the reward of DeepSeek-R1's RL needs it: deterministic, bounded in time, and explained.
//
//   MathVerdict v = VerifyMathAnswer(response, "\\frac{1}{2}", absl::Now() + absl::Seconds(1));
//   if (v.status == MathStatus::kCorrect) reward = 1;
//   LOG(INFO) << v.extracted_answer << ": " << v.reason;
//
// The answer is read from the text after the last "</think>" (the whole text if there is none):
// the last \boxed{...} (or \fbox, \framebox); else "the answer is ..." / "Final Answer: ...";
// else GSM8K's "#### n"; else a markdown-bold **...**; else a short bare answer or the last
// number. Several boxed answers that differ are hedging and judged wrong, unless together they
// are the reference's list of values.
//
// Both sides are normalised (LaTeX spacing, \left/\right, \dfrac, \text and units, degrees,
// percent, thousands separators, "x = 3" against "3", trailing punctuation) and parsed into
// structures (expressions, equations, tuples, intervals, sets, matrices, multiple-choice
// letters, text). Expressions are compared exactly when both sides have an exact form (rational
// functions over Q in i, square roots, pi, e and the variables), else exactly at several random
// rational values of the variables, else numerically (complex doubles) at random points. A decimal
// matches a fraction it correctly rounds (0.333 for 1/3, at least three significant digits), never
// an irrational number (3.14 is not pi). Percent scaling (0.28 for 28%) applies only when the
// reference is a percentage.
//
// Work is bounded by MathVerifierOptions and by `deadline`, checked cooperatively: a verdict
// past the deadline is kTimeout, never a silent wrong. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "lib/verify/math/math_verifier_options.h"

namespace r1serve::verify {

enum class MathStatus { kCorrect, kWrong, kNoAnswer, kUnparseableReference, kTimeout };

// "correct", "wrong", "no answer", "unparseable reference", "timeout".
const char* MathStatusName(MathStatus status);

struct MathVerdict {
  MathStatus status = MathStatus::kNoAnswer;
  // The response's final answer as found ("" if none).
  std::string extracted_answer;
  // What was extracted, how each side was normalised, why they match or not.
  std::string reason;
};

// `response` is the model's completion; `reference` the data set's answer (LaTeX or plain).
MathVerdict VerifyMathAnswer(std::string_view response, std::string_view reference,
                             absl::Time deadline, const MathVerifierOptions& options = {});

}  // namespace r1serve::verify
