// Data test: every reference answer of the math sets in shared/data/math (MATH-500, GSM8K,
// AIME 2024, AMC 2023, Minerva) is boxed in a typical solution and must be judged correct
// against itself; each problem's answer is also checked against the next problem's reference
// and must be judged wrong unless the two are truly equal. Prints the confusion counts.
// Data: $R1SERVE_MATH_DATA_DIR, else $R1SERVE_SOURCE_DIR/../shared/data/math; skipped when
// missing.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/verify/math/answer_extraction.h"
#include "lib/verify/math/latex_normalizer.h"
#include "lib/verify/math/math_answer.h"
#include "lib/verify/math/math_equivalence.h"
#include "lib/verify/math/math_verifier.h"
#include "nlohmann/json.hpp"

namespace r1serve::verify {
namespace {

std::string DataDir() {
  if (const char* dir = std::getenv("R1SERVE_MATH_DATA_DIR")) return dir;
  const char* source = std::getenv("R1SERVE_SOURCE_DIR");
  return std::string(source ? source : R1SERVE_SOURCE_DIR) + "/../shared/data/math";
}

struct DataSet {
  std::string name;
  std::vector<std::string> references;
  // The data set's own worked solutions, where it has them beside an answer field (MATH-500,
  // AIME 2024, GSM8K); empty otherwise.
  std::vector<std::string> solutions;
};

// The reference answer of one row of each file.
std::string ReferenceOf(const std::string& set, const nlohmann::json& row) {
  if (set == "gsm8k") {
    std::string answer = row.at("answer");
    size_t at = answer.rfind("####");
    std::string tail = answer.substr(at + 4);
    size_t first = tail.find_first_not_of(' ');
    return first == std::string::npos ? "" : tail.substr(first);
  }
  if (set == "minerva_math") {  // no answer field: the solution's last box
    ExtractedAnswer found = ExtractFinalAnswer(row.at("solution").get<std::string>(), {});
    return found.candidates.empty() ? "" : found.candidates.back();
  }
  const nlohmann::json& answer = row.at("answer");
  if (answer.is_string()) return answer.get<std::string>();
  if (answer.is_number_float() && answer.get<double>() == static_cast<long>(answer.get<double>())) {
    return std::to_string(static_cast<long>(answer.get<double>()));  // AMC's 27.0
  }
  return answer.dump();
}

std::vector<DataSet> LoadAll(const std::string& dir) {
  std::vector<DataSet> sets;
  for (const char* name : {"math500", "gsm8k", "aime24", "amc23", "minerva_math"}) {
    std::ifstream in(dir + "/" + name + ".jsonl");
    if (!in) continue;
    DataSet set{name, {}, {}};
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      nlohmann::json row = nlohmann::json::parse(line);
      set.references.push_back(ReferenceOf(name, row));
      if (set.name == "gsm8k") {
        set.solutions.push_back(row.at("answer"));
      } else if (row.contains("solution") && row.contains("answer")) {
        set.solutions.push_back(row.at("solution"));
      }
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

std::string Solution(const std::string& answer) {
  return "<think>\nFirst, set up the equations and simplify.\n</think>\n\nSubstituting back, we "
         "find the value, so the answer is $\\boxed{" +
         answer + "}$.";
}

// An independent, crude notion of "truly equal": the same text up to spacing and spacing
// commands, or the same plain decimal number.
std::string Crude(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ' ') continue;
    if (s.compare(i, 3, "\\!") == 0 || s.compare(i, 2, "\\,") == 0) {
      ++i;
      continue;
    }
    if (s.compare(i, 5, "\\left") == 0 || s.compare(i, 6, "\\right") == 0) {
      i += s.compare(i, 5, "\\left") == 0 ? 4 : 5;
      continue;
    }
    out += s[i];
  }
  return out;
}

bool TrulyEqual(const std::string& a, const std::string& b) {
  if (Crude(a) == Crude(b)) return true;
  char* end_a;
  char* end_b;
  double x = std::strtod(a.c_str(), &end_a), y = std::strtod(b.c_str(), &end_b);
  return *end_a == '\0' && *end_b == '\0' && !a.empty() && !b.empty() && x == y;
}

// Pairs (answer, reference) of different problems that are equal in value though written
// differently, found by this test and checked by hand.
const std::map<std::string, std::string>& ReviewedEqualPairs() {
  static const auto* pairs = new std::map<std::string, std::string>{
      {"x=5", "5"},  // "x = 3" against "3"
  };
  return *pairs;
}

TEST(MathDataTest, ReferencesMatchThemselvesAndNotOthers) {
  std::string dir = DataDir();
  std::vector<DataSet> sets = LoadAll(dir);
  if (sets.empty()) GTEST_SKIP() << "no math data in " << dir;
  MathVerifierOptions options;
  for (const DataSet& set : sets) {
    std::array<int, 5> self{}, cross{};
    int parsed = 0;
    int cross_truly_equal = 0;
    absl::Time start = absl::Now();
    size_t n = set.references.size();
    for (size_t k = 0; k < n; ++k) {
      const std::string& ref = set.references[k];
      MathVerdict v = VerifyMathAnswer(Solution(ref), ref, absl::Now() + absl::Seconds(2), options);
      ++self[static_cast<int>(v.status)];
      EXPECT_EQ(v.status, MathStatus::kCorrect)
          << set.name << " #" << k << " reference " << ref << ": " << v.reason;

      if (set.name == "gsm8k") {  // GSM8K's own form as well
        MathVerdict hashes = VerifyMathAnswer("She sells the rest for $2 each.\n#### " + ref, ref,
                                              absl::Now() + absl::Seconds(2), options);
        EXPECT_EQ(hashes.status, MathStatus::kCorrect) << ref << ": " << hashes.reason;
      }
      // Equivalence is reflexive on every reference that parses (no fast path).
      WorkBudget budget(absl::Now() + absl::Seconds(2));
      NormalizedAnswer normalized = NormalizeLatexAnswer(ref);
      absl::StatusOr<MathAnswer> answer =
          ParseMathAnswer(normalized.text, normalized.text_wrapped, options, &budget);
      if (answer.ok()) {
        ++parsed;
        EquivalenceChecker checker(options, &budget);
        absl::StatusOr<Equivalence> eq = checker.Compare(*answer, *answer);
        ASSERT_TRUE(eq.ok()) << eq.status();
        EXPECT_TRUE(eq->equal) << set.name << " #" << k << " " << ref << ": " << eq->why;
      } else {
        std::printf("  %s #%zu reference does not parse: %s (%s)\n", set.name.c_str(), k,
                    ref.c_str(), std::string(answer.status().message()).c_str());
      }

      const std::string& other = set.references[(k + 1) % n];
      MathVerdict c =
          VerifyMathAnswer(Solution(other), ref, absl::Now() + absl::Seconds(2), options);
      ++cross[static_cast<int>(c.status)];
      bool truly_equal = TrulyEqual(other, ref);
      auto reviewed = ReviewedEqualPairs().find(other);
      if (reviewed != ReviewedEqualPairs().end() && reviewed->second == ref) truly_equal = true;
      cross_truly_equal += truly_equal;
      if (truly_equal) {
        EXPECT_EQ(c.status, MathStatus::kCorrect)
            << set.name << " #" << k << ": " << other << " vs " << ref << ": " << c.reason;
      } else {
        EXPECT_NE(c.status, MathStatus::kCorrect)
            << set.name << " #" << k << ": " << other << " vs " << ref << ": " << c.reason;
      }
    }
    // The data set's own solutions (several boxes that agree, \framebox, "####") against its
    // answers.
    int solutions_correct = 0;
    for (size_t k = 0; k < set.solutions.size(); ++k) {
      MathVerdict v = VerifyMathAnswer(set.solutions[k], set.references[k],
                                       absl::Now() + absl::Seconds(2), options);
      solutions_correct += v.status == MathStatus::kCorrect;
      EXPECT_EQ(v.status, MathStatus::kCorrect)
          << set.name << " #" << k << " own solution: " << v.reason;
    }
    double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf(
        "%-13s %4zu problems, %d parse | self: %d correct, %d wrong, %d no answer, %d "
        "unparseable, %d timeout | vs next: %d correct (%d truly equal), %d wrong, %d no "
        "answer, %d unparseable, %d timeout | own solutions: %d of %zu correct | %.1f ms\n",
        set.name.c_str(), n, parsed, self[0], self[1], self[2], self[3], self[4], cross[0],
        cross_truly_equal, cross[1], cross[2], cross[3], cross[4], solutions_correct,
        set.solutions.size(), seconds * 1e3);
  }
}

}  // namespace
}  // namespace r1serve::verify
