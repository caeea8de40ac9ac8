// r1serve-score: scores a JSON Lines file offline with the reward service's own code
// (lib/verify's RewardScorer). Format of the lines: score_jsonl.h.
//
//   r1serve-score --input=rollouts.jsonl --output=scores.jsonl --threads=8
//   r1serve-score < items.jsonl > results.jsonl
//
// One result line per input line, in input order (blank input lines are skipped). A line that
// cannot be read or scored gets an {"error": …} line and the run goes on; the exit code is 0
// then too, and non-zero only when the input or output cannot be used (2: bad flags, 1: I/O).
// Lines are read in chunks and each chunk is scored by --threads threads, so memory stays
// bounded on large files.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "lib/verify/reward_config_flags.h"
#include "lib/verify/reward_scorer.h"
#include "tools/score/score_jsonl.h"

ABSL_FLAG(std::string, input, "-", "JSON Lines to score; - for stdin");
ABSL_FLAG(std::string, output, "-", "where the result lines go; - for stdout");
ABSL_FLAG(int32_t, threads, 0, "items scored in parallel; 0 = one per CPU");
ABSL_FLAG(bool, starts_in_reasoning, false,
          "default of items without \"starts_in_reasoning\": the prompt ended inside <think> "
          "(R1's chat template), so responses hold </think> but no <think>");
ABSL_FLAG(double, item_timeout_s, 30, "per-item verification timeout");

namespace {

using r1serve::verify::RewardScorer;

struct Line {
  int64_t number = 0;
  std::string text;
  std::string result;
};

std::string ScoreLine(const RewardScorer& scorer, const Line& line, bool starts_in_reasoning) {
  absl::StatusOr<r1serve::verify::RewardItem> item =
      r1serve::tools::ParseScoreLine(line.text, starts_in_reasoning);
  if (!item.ok()) {
    return r1serve::tools::ErrorLine(line.number, r1serve::tools::LineId(line.text), item.status());
  }
  return r1serve::tools::ResultLine(scorer.Score(*item), line.number);
}

// Scores every line of `chunk` with `threads` threads taking lines in turn.
void ScoreChunk(const RewardScorer& scorer, std::vector<Line>& chunk, int threads,
                bool starts_in_reasoning) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < chunk.size(); i = next++) {
      chunk[i].result = ScoreLine(scorer, chunk[i], starts_in_reasoning);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& thread : pool) thread.join();
}

std::string BadFlags() {
  if (!(absl::GetFlag(FLAGS_item_timeout_s) > 0)) return "--item_timeout_s must be > 0";
  if (absl::GetFlag(FLAGS_threads) < 0) return "--threads must be >= 0";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "score JSON Lines of model responses: r1serve-score [--input=F] [--output=F] [--threads=N]");
  absl::ParseCommandLine(argc, argv);
  if (std::string bad = BadFlags(); !bad.empty()) {
    std::cerr << "r1serve-score: " << bad << "\n";
    return 2;
  }
  // --code_test_timeout_s, --code_memory_limit_mb, --format_partial_credit: shared with
  // r1serve-reward (reward_config_flags.h).
  absl::StatusOr<r1serve::verify::RewardConfig> config =
      r1serve::verify::RewardConfigFromFlags(absl::Seconds(absl::GetFlag(FLAGS_item_timeout_s)));
  if (!config.ok()) {
    std::cerr << "r1serve-score: " << config.status().message() << "\n";
    return 2;
  }
  const RewardScorer scorer(*config);

  std::ifstream input_file;
  const std::string input_path = absl::GetFlag(FLAGS_input);
  if (input_path != "-") {
    input_file.open(input_path, std::ios::binary);
    if (!input_file) {
      std::cerr << "r1serve-score: cannot open " << input_path << "\n";
      return 1;
    }
  }
  std::istream& in = input_path == "-" ? std::cin : input_file;
  std::ofstream output_file;
  const std::string output_path = absl::GetFlag(FLAGS_output);
  if (output_path != "-") {
    output_file.open(output_path, std::ios::binary | std::ios::trunc);
    if (!output_file) {
      std::cerr << "r1serve-score: cannot write " << output_path << "\n";
      return 1;
    }
  }
  std::ostream& out = output_path == "-" ? std::cout : output_file;

  int threads = absl::GetFlag(FLAGS_threads);
  if (threads == 0) threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const bool starts_in_reasoning = absl::GetFlag(FLAGS_starts_in_reasoning);
  // Enough lines per chunk to keep every thread busy past the slow items of a chunk.
  const size_t chunk_size = static_cast<size_t>(threads) * 32;
  std::vector<Line> chunk;
  int64_t number = 0;
  std::string text;
  bool more = true;
  while (more) {
    chunk.clear();
    while (chunk.size() < chunk_size && (more = static_cast<bool>(std::getline(in, text)))) {
      ++number;
      if (absl::StripAsciiWhitespace(text).empty()) continue;
      chunk.push_back(Line{.number = number, .text = std::move(text), .result = {}});
    }
    ScoreChunk(scorer, chunk, threads, starts_in_reasoning);
    for (const Line& line : chunk) out << line.result << '\n';
    out.flush();
    if (!out) {
      std::cerr << "r1serve-score: writing the results failed\n";
      return 1;
    }
  }
  if (in.bad()) {
    std::cerr << "r1serve-score: reading the input failed\n";
    return 1;
  }
  return EXIT_SUCCESS;
}
