// Median, minimum and maximum of a benchmark's repeated runs: the figures every benchmark here
// reports (these machines are noisy, so one run is no figure). The median of an even count is
// the mean of the middle two.
//
//   RunStats s = SummarizeRuns({3.1, 2.9, 3.4});   // {3.1, 2.9, 3.4}
//   Json j = RunStatsJson(runs);                  // {median, min, max, runs}, 2 decimals
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "nlohmann/json.hpp"

namespace r1serve::bench {

struct RunStats {
  double median = 0, min = 0, max = 0;
};

inline RunStats SummarizeRuns(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  const double median = values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  return {median, values.front(), values.back()};
}

// {median, min, max, runs} rounded to 2 decimals: the shape llama_cpp_bench.js prints.
inline nlohmann::json RunStatsJson(const std::vector<double>& values) {
  const RunStats s = SummarizeRuns(values);
  const auto round = [](double x) { return std::round(x * 100) / 100; };
  nlohmann::json runs = nlohmann::json::array();
  for (double v : values) runs.push_back(round(v));
  return {
      {"median", round(s.median)}, {"min", round(s.min)}, {"max", round(s.max)}, {"runs", runs}};
}

}  // namespace r1serve::bench
