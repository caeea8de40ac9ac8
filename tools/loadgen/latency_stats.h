// Percentiles of latency samples for r1serve-loadgen's report (nearest-rank on the sorted
// samples, as most serving benchmarks print them). Pure (latency_stats_test.cc).
//
//   LatencySummary ttft = Summarize(ttft_seconds);    // count, mean, p50, p90, p99, max
#pragma once

#include <cstddef>
#include <vector>

namespace r1serve::loadgen {

struct LatencySummary {
  size_t count = 0;
  double mean = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// Nearest-rank percentile (q in (0, 1]) of `sorted` (ascending, non-empty).
double Percentile(const std::vector<double>& sorted, double q);

// All zeros for no samples.
LatencySummary Summarize(std::vector<double> samples);

}  // namespace r1serve::loadgen
