// r1serve-tokenize: the suite's tokenizer (lib/text) on the command line, one JSON value per
// line, so that scripts in any language can drive it and compare it with other tokenizers.
//
//   echo '"Hello <think>"' | r1serve-tokenize --tokenizer qwen3/tokenizer.json
//   {"ids":[9707,220,151667]}
//   echo '{"ids":[9707,220,151667]}' | r1serve-tokenize --tokenizer qwen3/tokenizer.json --decode
//   "Hello <think>"
//
// Every input line gets exactly one output line, in order; a line that cannot be used gets
// {"error":"line N: ..."} and the rest still run. Exit status 1 means the arguments or the
// tokenizer files were unusable (message on stderr), never a bad line.
//
// Benchmarking (bench/run_tokenizer_bench.sh uses this): with --bench_json the tool reads all
// of stdin first, encodes every line --bench_runs times, writes the first run's ids to stdout
// and one JSON object to stderr with the bytes encoded and the seconds and MB/s of each run.
// Only the Encode calls are inside the clock: no process start, file loading, JSON or I/O.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/text/tokenizer.h"
#include "tools/tokenize/json_lines.h"

ABSL_FLAG(std::string, tokenizer, "", "Path to a Hugging Face tokenizer.json (required).");
ABSL_FLAG(std::string, config, "",
          "Path to the matching tokenizer_config.json (optional; names bos/eos).");
ABSL_FLAG(bool, add_special_tokens, false,
          "Encode: apply the post-processor's template (e.g. Llama 3 prepends BOS), as HF "
          "tokenizers' encode(text, add_special_tokens=True).");
ABSL_FLAG(bool, decode, false,
          "Read {\"ids\":[...]} lines and write the decoded text as JSON strings.");
ABSL_FLAG(bool, skip_special_tokens, false, "Decode: leave special tokens out of the text.");
ABSL_FLAG(bool, bench_json, false,
          "Encode: read all input first, time only the Encode calls, and print a JSON report "
          "(bytes, tokens, seconds and MB/s per run) to stderr.");
ABSL_FLAG(int32_t, bench_runs, 1,
          "With --bench_json: how many times to encode the whole input (each run reported).");

namespace r1serve::tools {
namespace {

using Clock = std::chrono::steady_clock;
using LineHandler = std::function<void(size_t line_number, std::string_view line, std::string*)>;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Streams stdin to stdout line by line; output is flushed whenever input would block, so an
// interactive driver gets each answer before it sends the next line.
int StreamLines(const LineHandler& handle_line) {
  LineReader reader(STDIN_FILENO);
  OutputWriter writer(STDOUT_FILENO);
  bool write_ok = true;
  reader.set_before_read([&] { write_ok = write_ok && writer.Flush(); });
  std::string_view line;
  size_t line_number = 0;
  while (write_ok && reader.Next(&line)) {
    handle_line(++line_number, line, writer.buffer());
    write_ok = writer.MaybeFlush();
  }
  write_ok = write_ok && writer.Flush();
  if (!reader.read_error().empty()) {
    std::fprintf(stderr, "r1serve-tokenize: reading stdin failed: %s\n",
                 reader.read_error().c_str());
    return 1;
  }
  if (!write_ok) {
    std::fprintf(stderr, "r1serve-tokenize: writing stdout failed\n");
    return 1;
  }
  return 0;
}

int RunEncode(const text::Tokenizer& tokenizer, bool add_special_tokens) {
  return StreamLines([&](size_t line_number, std::string_view line, std::string* out) {
    absl::StatusOr<std::string> text = ParseTextLine(line);
    if (!text.ok()) {
      AppendErrorLine(line_number, text.status().message(), out);
      return;
    }
    AppendIdsLine(tokenizer.Encode(*text, add_special_tokens), out);
  });
}

int RunDecode(const text::Tokenizer& tokenizer, bool skip_special_tokens) {
  return StreamLines([&](size_t line_number, std::string_view line, std::string* out) {
    absl::StatusOr<std::vector<text::TokenId>> ids = ParseIdsLine(line);
    if (!ids.ok()) {
      AppendErrorLine(line_number, ids.status().message(), out);
      return;
    }
    absl::StatusOr<std::string> text = tokenizer.Decode(*ids, skip_special_tokens);
    if (!text.ok()) {
      AppendErrorLine(line_number, text.status().message(), out);
      return;
    }
    // Decode promises valid UTF-8 (lossy repair); checking here makes a broken promise a
    // visible error line instead of text silently repaired by the JSON writer.
    if (!IsValidUtf8(*text)) {
      AppendErrorLine(line_number, "the tokenizer decoded to invalid UTF-8", out);
      return;
    }
    AppendJsonString(*text, out);
    out->push_back('\n');
  });
}

int RunEncodeBench(const text::Tokenizer& tokenizer, bool add_special_tokens, int runs,
                   double load_seconds) {
  // Parse everything up front so that the timed loop sees only ready strings.
  std::vector<absl::StatusOr<std::string>> texts;
  LineReader reader(STDIN_FILENO);
  std::string_view line;
  size_t bytes = 0;
  while (reader.Next(&line)) {
    texts.push_back(ParseTextLine(line));
    if (texts.back().ok()) bytes += texts.back()->size();
  }
  if (!reader.read_error().empty()) {
    std::fprintf(stderr, "r1serve-tokenize: reading stdin failed: %s\n",
                 reader.read_error().c_str());
    return 1;
  }

  std::vector<std::vector<text::TokenId>> first_run(texts.size());
  std::vector<double> seconds;
  std::vector<double> mb_per_s;
  size_t tokens = 0;
  for (int run = 0; run < runs; ++run) {
    size_t run_tokens = 0;
    const Clock::time_point start = Clock::now();
    for (size_t i = 0; i < texts.size(); ++i) {
      if (!texts[i].ok()) continue;
      std::vector<text::TokenId> ids = tokenizer.Encode(*texts[i], add_special_tokens);
      run_tokens += ids.size();
      if (run == 0) first_run[i] = std::move(ids);
    }
    seconds.push_back(SecondsSince(start));
    mb_per_s.push_back(seconds.back() > 0 ? bytes / 1e6 / seconds.back() : 0);
    tokens = run_tokens;
  }

  OutputWriter writer(STDOUT_FILENO);
  bool write_ok = true;
  for (size_t i = 0; i < texts.size() && write_ok; ++i) {
    if (texts[i].ok()) {
      AppendIdsLine(first_run[i], writer.buffer());
    } else {
      AppendErrorLine(i + 1, texts[i].status().message(), writer.buffer());
    }
    write_ok = writer.MaybeFlush();
  }
  if (!write_ok || !writer.Flush()) {
    std::fprintf(stderr, "r1serve-tokenize: writing stdout failed\n");
    return 1;
  }
  const std::string report = absl::StrCat(
      "{\"bench\":\"encode\",\"lines\":", texts.size(), ",\"bytes\":", bytes,
      ",\"tokens\":", tokens, ",\"load_seconds\":", load_seconds, ",\"seconds\":[",
      absl::StrJoin(seconds, ","), "],\"mb_per_s\":[", absl::StrJoin(mb_per_s, ","), "]}\n");
  std::fputs(report.c_str(), stderr);
  return 0;
}

// Returns an empty string when the flag combination is usable, else what is wrong.
std::string CheckFlags(const std::vector<char*>& positional) {
  if (positional.size() > 1) {
    return absl::StrCat("unexpected argument '", positional[1], "' (input is read from stdin)");
  }
  if (absl::GetFlag(FLAGS_tokenizer).empty()) {
    return "--tokenizer is required (path to a tokenizer.json)";
  }
  const bool decode = absl::GetFlag(FLAGS_decode);
  if (decode && absl::GetFlag(FLAGS_add_special_tokens)) {
    return "--add_special_tokens applies to encoding, not to --decode";
  }
  if (!decode && absl::GetFlag(FLAGS_skip_special_tokens)) {
    return "--skip_special_tokens applies to --decode only";
  }
  if (decode && absl::GetFlag(FLAGS_bench_json)) {
    return "--bench_json measures encoding only; drop --decode";
  }
  if (absl::GetFlag(FLAGS_bench_runs) < 1) return "--bench_runs must be at least 1";
  return "";
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "text to token ids and back, one JSON value per line on stdin/stdout.\n"
      "  r1serve-tokenize --tokenizer tokenizer.json [--config tokenizer_config.json]\n"
      "      [--add_special_tokens] [--bench_json [--bench_runs N]]   \"text\" -> {\"ids\":[...]}\n"
      "  r1serve-tokenize --tokenizer tokenizer.json --decode [--skip_special_tokens]\n"
      "      {\"ids\":[...]} -> \"text\"");
  // absl's --help lists only flags from a file named after the program; ours live here.
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "tools/tokenize/");
  };
  absl::SetFlagsUsageConfig(usage_config);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (const std::string problem = CheckFlags(positional); !problem.empty()) {
    std::fprintf(stderr, "r1serve-tokenize: %s\n\nr1serve-tokenize: %s\n(--help lists the flags)\n",
                 problem.c_str(), std::string(absl::ProgramUsageMessage()).c_str());
    return 1;
  }

  const Clock::time_point load_start = Clock::now();
  absl::StatusOr<std::unique_ptr<text::Tokenizer>> tokenizer =
      text::Tokenizer::FromFiles(absl::GetFlag(FLAGS_tokenizer), absl::GetFlag(FLAGS_config));
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "r1serve-tokenize: cannot load the tokenizer: %s\n",
                 tokenizer.status().ToString().c_str());
    return 1;
  }
  const double load_seconds = SecondsSince(load_start);

  if (absl::GetFlag(FLAGS_decode)) {
    return RunDecode(**tokenizer, absl::GetFlag(FLAGS_skip_special_tokens));
  }
  if (absl::GetFlag(FLAGS_bench_json)) {
    return RunEncodeBench(**tokenizer, absl::GetFlag(FLAGS_add_special_tokens),
                          absl::GetFlag(FLAGS_bench_runs), load_seconds);
  }
  return RunEncode(**tokenizer, absl::GetFlag(FLAGS_add_special_tokens));
}

}  // namespace
}  // namespace r1serve::tools

int main(int argc, char** argv) { return r1serve::tools::Main(argc, argv); }
