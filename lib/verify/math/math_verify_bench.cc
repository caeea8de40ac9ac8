// math_verify_bench: verifications per second on one core, for simple answers and for the
// MATH-500 references (each boxed in a short solution and checked against itself and against
// the next problem's reference).
//
//   ninja -C build math_verify_bench && build/bin/math_verify_bench [path/to/math500.jsonl]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "lib/verify/math/math_verifier.h"
#include "nlohmann/json.hpp"

namespace {

using r1serve::verify::MathStatus;
using r1serve::verify::VerifyMathAnswer;

struct Item {
  std::string response;
  std::string reference;
};

// Runs the items round-robin for about `seconds`; returns verifications per second.
double Measure(const std::vector<Item>& items, double seconds, int* correct) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  long done = 0;
  *correct = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    for (const Item& item : items) {
      auto v = VerifyMathAnswer(item.response, item.reference, absl::Now() + absl::Seconds(5));
      if (done < static_cast<long>(items.size()) && v.status == MathStatus::kCorrect) ++*correct;
      ++done;
    }
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return done / elapsed;
}

std::string Solution(const std::string& answer) {
  return "<think>\nLet me work through this carefully. First we set up the equation, then we "
         "simplify and check the edge cases.\n</think>\n\nWe simplify the expression and find "
         "the value.\n\nTherefore, the final answer is $\\boxed{" +
         answer + "}$.";
}

}  // namespace

int main(int argc, char** argv) {
  std::string path =
      argc > 1 ? argv[1] : std::string(R1SERVE_SOURCE_DIR) + "/../shared/data/math/math500.jsonl";
  std::vector<Item> simple;
  const std::vector<std::pair<std::string, std::string>> kSimple = {
      {"42", "42"}, {"\\frac{1}{2}", "0.5"},      {"3/4", "\\frac34"}, {"18", "18.00"},
      {"-7", "-7"}, {"2\\sqrt{3}", "\\sqrt{12}"}, {"x = 5", "5"},      {"10", "12"}};
  for (const auto& [answer, reference] : kSimple) simple.push_back({Solution(answer), reference});
  int correct = 0;
  double rate = Measure(simple, 2.0, &correct);
  std::printf("simple answers: %.0f verifications/s/core (%d of %zu judged correct, 7 expected)\n",
              rate, correct, simple.size());

  std::ifstream in(path);
  if (!in) {
    std::printf("MATH-500: %s not found, skipped\n", path.c_str());
    return 0;
  }
  std::vector<std::string> references;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) references.push_back(nlohmann::json::parse(line).at("answer"));
  }
  std::vector<Item> self, other;
  for (size_t k = 0; k < references.size(); ++k) {
    self.push_back({Solution(references[k]), references[k]});
    other.push_back({Solution(references[(k + 1) % references.size()]), references[k]});
  }
  rate = Measure(self, 3.0, &correct);
  std::printf("MATH-500 references vs themselves: %.0f verifications/s/core (%d of %zu correct)\n",
              rate, correct, self.size());
  rate = Measure(other, 3.0, &correct);
  std::printf(
      "MATH-500 references vs the next one: %.0f verifications/s/core (%d of %zu "
      "judged correct)\n",
      rate, correct, other.size());
  return 0;
}
