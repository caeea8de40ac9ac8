// r1serve-generate: generates text with the engine from the command line, on the CPU backend.
// The model is a Hugging Face folder or a GGUF file; the prompt is raw text, a chat message
// (through the model's chat template) or token ids.
//
//   r1serve-generate --model /models/R1-Distill-Qwen-1.5B --chat "What is 2+2?" --max_tokens 512
//   r1serve-generate --model q15b.gguf --prompt "Once upon a time" --temperature 0 --threads 2
//   r1serve-generate --model tiny.gguf --prompt_ids 0,9707,11 --temperature 0 --json --logprobs 5
//   r1serve-generate --model tiny --chat hi --n 4 --seed 7 --stop "</think>" --stop "\n\n"
//
// Output: the text as it is generated (n = 1; with --n > 1 each sample's text after the run),
// and a statistics line on stderr. With --json, stdout carries one JSON object per generated
// token,
//   {"index":0,"id":9707,"text":"Hello","logprob":-0.01,"top_logprobs":[{"id":9707,"logprob":-0.01}]}
// ("logprob"/"top_logprobs" with --logprobs; "finish_reason" on a sample's last token), then one
// summary object:
//   {"summary":true,"prompt_tokens":P,"generated_tokens":G,"prefill_tokens_per_s":...,
//    "decode_tokens_per_s":...,"prefill_seconds":...,"decode_seconds":...,"load_seconds":...,
//    "finish_reasons":["length"]}
// Prefill time runs from the first step to the first token; decode is what follows
// (decode tokens = generated - n). Sampling flags left unset take the model's defaults
// (generation_config.json, else temperature 0.6, top_p 0.95). --stop may be repeated.
// Exit status 1 on bad flags or any error (message on stderr).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/base/status_macros.h"
#include "lib/engine/backend/backend.h"
#include "lib/engine/format/model.h"
#include "lib/engine/runtime/engine.h"
#include "lib/engine/runtime/generation_config.h"
#include "lib/engine/runtime/model_tokenizer.h"
#include "lib/text/chat_template.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, model, "", "Model: a Hugging Face folder or a GGUF file (required).");
ABSL_FLAG(std::string, prompt, "", "Raw prompt text (BOS added when the model asks for it).");
ABSL_FLAG(std::string, chat, "", "A user message, rendered with the model's chat template.");
ABSL_FLAG(std::string, prompt_ids, "", "Prompt token ids, comma-separated (used as they are).");

ABSL_FLAG(int, max_tokens, 256,
          "Most tokens to generate per sample; 0 = until the context is full.");
ABSL_FLAG(std::optional<double>, temperature, std::nullopt, "0 = greedy; unset: model default.");
ABSL_FLAG(std::optional<double>, top_p, std::nullopt, "Nucleus sampling, (0, 1].");
ABSL_FLAG(std::optional<int>, top_k, std::nullopt, "Top-k sampling; 0 or -1 = off.");
ABSL_FLAG(std::optional<double>, min_p, std::nullopt, "Min-p sampling, [0, 1].");
ABSL_FLAG(double, presence_penalty, 0, "OpenAI presence penalty, [-2, 2].");
ABSL_FLAG(double, frequency_penalty, 0, "OpenAI frequency penalty, [-2, 2].");
ABSL_FLAG(std::optional<double>, repetition_penalty, std::nullopt,
          "HF repetition penalty; 1 = off.");
ABSL_FLAG(std::optional<uint64_t>, seed, std::nullopt, "Seed; unset: a fresh one.");
// Declared for --help; main() collects the repeated values itself (TakeStopFlags).
ABSL_FLAG(std::vector<std::string>, stop, {}, "A stop string; repeat the flag for several.");
ABSL_FLAG(std::string, stop_token_ids, "", "Stop token ids, comma-separated.");
ABSL_FLAG(int, min_tokens, 0, "Tokens generated before EOS / stops may end a sample.");
ABSL_FLAG(bool, ignore_eos, false, "Keep generating after EOS.");
ABSL_FLAG(std::optional<int>, logprobs, std::nullopt,
          "Report the chosen token's logprob and this many alternatives (0-20).");
ABSL_FLAG(bool, skip_special_tokens, true, "Leave special tokens out of the text.");
ABSL_FLAG(int, n, 1, "Samples of the prompt (one prefill, shared prompt KV).");

ABSL_FLAG(int, threads, 0, "CPU threads; 0 = all cores.");
ABSL_FLAG(int, kv_blocks, 0, "KV cache blocks; 0 = from --kv_cache_mb.");
ABSL_FLAG(int, kv_cache_mb, 1024, "KV cache size in MiB (when --kv_blocks is 0).");
ABSL_FLAG(std::string, kv_dtype, "f16", "KV cache element type: f16 or f32.");
ABSL_FLAG(int, block_size, 16, "Tokens per KV block.");
ABSL_FLAG(int, max_batch_tokens, 2048, "Rows of one forward pass (prefill chunk size).");
ABSL_FLAG(int, max_model_len, 0, "Context window; 0 = the model's (capped by the cache).");
ABSL_FLAG(bool, json, false, "One JSON object per token, then a summary object.");

namespace r1serve::engine {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

absl::StatusOr<std::vector<int32_t>> ParseIds(const std::string& text, const char* flag) {
  std::vector<int32_t> ids;
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int32_t id;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(piece), &id)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": \"", piece, "\" is not an id"));
    }
    ids.push_back(id);
  }
  return ids;
}

// Every `--stop X` / `--stop=X` of the command line: absl keeps only the last occurrence of a
// flag, and a stop string may well contain the comma its list syntax would split on.
std::vector<std::string> TakeStopFlags(int& argc, char** argv) {
  std::vector<std::string> stops;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--stop" || arg == "-stop") && i + 1 < argc) {
      stops.push_back(argv[++i]);
    } else if (absl::StartsWith(arg, "--stop=") || absl::StartsWith(arg, "-stop=")) {
      stops.push_back(arg.substr(arg.find('=') + 1));
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return stops;
}

// "\n" and "\t" typed on a command line mean the characters.
std::string Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 'n' || text[i + 1] == 't')) {
      out += text[++i] == 'n' ? '\n' : '\t';
    } else {
      out += text[i];
    }
  }
  return out;
}

absl::StatusOr<SamplingParams> ParamsFromFlags(const std::vector<std::string>& stops) {
  SamplingParams p;
  if (auto t = absl::GetFlag(FLAGS_temperature)) p.temperature = static_cast<float>(*t);
  if (auto t = absl::GetFlag(FLAGS_top_p)) p.top_p = static_cast<float>(*t);
  if (auto k = absl::GetFlag(FLAGS_top_k)) p.top_k = *k;
  if (auto m = absl::GetFlag(FLAGS_min_p)) p.min_p = static_cast<float>(*m);
  p.presence_penalty = static_cast<float>(absl::GetFlag(FLAGS_presence_penalty));
  p.frequency_penalty = static_cast<float>(absl::GetFlag(FLAGS_frequency_penalty));
  if (auto r = absl::GetFlag(FLAGS_repetition_penalty))
    p.repetition_penalty = static_cast<float>(*r);
  p.seed = absl::GetFlag(FLAGS_seed);
  for (const std::string& s : stops) p.stop.push_back(Unescape(s));
  ASSIGN_OR_RETURN(p.stop_token_ids,
                   ParseIds(absl::GetFlag(FLAGS_stop_token_ids), "stop_token_ids"));
  const int max_tokens = absl::GetFlag(FLAGS_max_tokens);
  if (max_tokens < 0) return absl::InvalidArgumentError("--max_tokens must be >= 0");
  if (max_tokens > 0) p.max_tokens = static_cast<uint32_t>(max_tokens);
  if (absl::GetFlag(FLAGS_min_tokens) < 0)
    return absl::InvalidArgumentError("--min_tokens must be >= 0");
  p.min_tokens = static_cast<uint32_t>(absl::GetFlag(FLAGS_min_tokens));
  p.ignore_eos = absl::GetFlag(FLAGS_ignore_eos);
  if (auto l = absl::GetFlag(FLAGS_logprobs)) {
    if (*l < 0) return absl::InvalidArgumentError("--logprobs must be >= 0");
    p.logprobs = static_cast<uint32_t>(*l);
  }
  p.skip_special_tokens = absl::GetFlag(FLAGS_skip_special_tokens);
  if (absl::GetFlag(FLAGS_n) < 1) return absl::InvalidArgumentError("--n must be >= 1");
  p.n = static_cast<uint32_t>(absl::GetFlag(FLAGS_n));
  return p;
}

absl::StatusOr<std::vector<int32_t>> PromptFromFlags(const std::optional<ModelTokenizer>& tok) {
  const std::string prompt = absl::GetFlag(FLAGS_prompt);
  const std::string chat = absl::GetFlag(FLAGS_chat);
  const std::string ids = absl::GetFlag(FLAGS_prompt_ids);
  if ((!prompt.empty()) + (!chat.empty()) + (!ids.empty()) != 1) {
    return absl::InvalidArgumentError("give exactly one of --prompt, --chat and --prompt_ids");
  }
  if (!ids.empty()) return ParseIds(ids, "prompt_ids");
  if (!tok.has_value()) {
    return absl::FailedPreconditionError(
        "the model has no tokenizer: give the prompt as --prompt_ids");
  }
  if (!chat.empty()) {
    ASSIGN_OR_RETURN(std::string rendered,
                     text::RenderChat(*tok->tokenizer, {{"user", Unescape(chat)}}, {}));
    return tok->tokenizer->Encode(rendered, /*add_special_tokens=*/false);
  }
  std::vector<int32_t> encoded = tok->tokenizer->Encode(Unescape(prompt), true);
  if (tok->add_bos && tok->bos_id.has_value() && (encoded.empty() || encoded[0] != *tok->bos_id)) {
    encoded.insert(encoded.begin(), *tok->bos_id);
  }
  return encoded;
}

Json TokenJson(const TokenEvent& e) {
  Json j = {{"index", e.sample_index}, {"id", e.token_id}, {"text", e.text}};
  if (e.logprob.has_value()) {
    j["logprob"] = *e.logprob;
    Json top = Json::array();
    for (const TokenLogprob& t : e.top_logprobs)
      top.push_back({{"id", t.token_id}, {"logprob", t.logprob}});
    j["top_logprobs"] = std::move(top);
  }
  if (e.finish != FinishReason::kNone) j["finish_reason"] = std::string(FinishReasonName(e.finish));
  return j;
}

absl::Status Run(const std::vector<std::string>& stops) {
  const std::string path = absl::GetFlag(FLAGS_model);
  if (path.empty()) return absl::InvalidArgumentError("--model is required");
  const bool json = absl::GetFlag(FLAGS_json);
  ASSIGN_OR_RETURN(SamplingParams params, ParamsFromFlags(stops));

  const Clock::time_point load_start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<Model> loaded, LoadModel(path));
  std::shared_ptr<const Model> model = std::move(loaded);
  std::optional<ModelTokenizer> tokenizer;
  if (absl::StatusOr<ModelTokenizer> t = LoadModelTokenizer(*model); t.ok()) {
    tokenizer = *std::move(t);
  } else if (!absl::IsNotFound(t.status())) {
    return t.status();
  }
  ASSIGN_OR_RETURN(GenerationConfig generation, LoadGenerationConfig(*model));

  EngineOptions options;
  options.num_kv_blocks = absl::GetFlag(FLAGS_kv_blocks);
  options.kv_cache_bytes = int64_t{absl::GetFlag(FLAGS_kv_cache_mb)} << 20;
  const std::string kv_dtype = absl::GetFlag(FLAGS_kv_dtype);
  if (kv_dtype != "f16" && kv_dtype != "f32") {
    return absl::InvalidArgumentError(absl::StrCat("--kv_dtype ", kv_dtype, ": want f16 or f32"));
  }
  options.kv_dtype = kv_dtype == "f16" ? DType::kF16 : DType::kF32;
  options.block_size = absl::GetFlag(FLAGS_block_size);
  options.max_num_batched_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  options.max_num_seqs = std::max(absl::GetFlag(FLAGS_n), 1);
  options.max_model_len = absl::GetFlag(FLAGS_max_model_len);
  options.sampling_defaults = generation.defaults;
  options.eos_token_ids = generation.eos_token_ids;
  std::shared_ptr<const text::Tokenizer> text_tokenizer =
      tokenizer.has_value() ? tokenizer->tokenizer : nullptr;
  ASSIGN_OR_RETURN(
      std::unique_ptr<Engine> engine,
      Engine::Create(model, CreateCpuBackend({.num_threads = absl::GetFlag(FLAGS_threads)}),
                     text_tokenizer, options));
  const double load_seconds = Seconds(Clock::now() - load_start);

  ASSIGN_OR_RETURN(std::vector<int32_t> prompt, PromptFromFlags(tokenizer));
  const size_t prompt_tokens = prompt.size();
  const int n = static_cast<int>(params.n);
  RETURN_IF_ERROR(engine->AddRequest(std::move(prompt), params).status());

  std::vector<std::string> texts(static_cast<size_t>(n));
  std::vector<std::string> finish_reasons(static_cast<size_t>(n));
  int64_t generated = 0;
  const Clock::time_point start = Clock::now();
  std::optional<Clock::time_point> first_token;
  absl::Status failure;
  while (engine->HasWork()) {
    ASSIGN_OR_RETURN(std::vector<TokenEvent> events, engine->Step());
    for (const TokenEvent& e : events) {
      if (e.token_id >= 0) {
        ++generated;
        if (!first_token.has_value()) first_token = Clock::now();
      }
      if (e.finish == FinishReason::kError && failure.ok()) failure = e.error;
      if (e.finish != FinishReason::kNone) {
        finish_reasons[static_cast<size_t>(e.sample_index)] =
            std::string(FinishReasonName(e.finish));
      }
      if (json) {
        if (e.token_id >= 0) std::cout << TokenJson(e).dump() << "\n" << std::flush;
      } else if (n == 1) {
        std::cout << e.text << std::flush;
      } else {
        texts[static_cast<size_t>(e.sample_index)] += e.text;
      }
    }
  }
  const Clock::time_point end = Clock::now();
  if (!failure.ok()) return failure;

  const double prefill_seconds = first_token.has_value() ? Seconds(*first_token - start) : 0;
  const double decode_seconds = first_token.has_value() ? Seconds(end - *first_token) : 0;
  const int64_t decode_tokens = std::max<int64_t>(generated - n, 0);
  const double prefill_rate = prefill_seconds > 0 ? prompt_tokens / prefill_seconds : 0;
  const double decode_rate = decode_seconds > 0 ? decode_tokens / decode_seconds : 0;
  if (json) {
    Json summary = {{"summary", true},
                    {"prompt_tokens", prompt_tokens},
                    {"generated_tokens", generated},
                    {"prefill_tokens_per_s", prefill_rate},
                    {"decode_tokens_per_s", decode_rate},
                    {"prefill_seconds", prefill_seconds},
                    {"decode_seconds", decode_seconds},
                    {"load_seconds", load_seconds},
                    {"finish_reasons", finish_reasons}};
    std::cout << summary.dump() << "\n";
  } else {
    if (n == 1) {
      std::cout << "\n";
    } else {
      for (int i = 0; i < n; ++i) {
        std::cout << "--- sample " << i << " (" << finish_reasons[static_cast<size_t>(i)]
                  << ") ---\n"
                  << texts[static_cast<size_t>(i)] << "\n";
      }
    }
    std::cerr << absl::StrCat("prompt ", prompt_tokens, " tokens, generated ", generated,
                              "; prefill ", prefill_rate, " tokens/s, decode ", decode_rate,
                              " tokens/s; load ", load_seconds, " s\n");
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace r1serve::engine

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "r1serve-generate: generates text with the r1serve engine (CPU backend).\n"
      "  r1serve-generate --model PATH (--prompt TEXT | --chat TEXT | --prompt_ids 1,2,3) "
      "[--max_tokens N] [--temperature T] [--json] ...");
  std::vector<std::string> stops = r1serve::engine::TakeStopFlags(argc, argv);
  absl::ParseCommandLine(argc, argv);
  absl::Status status = r1serve::engine::Run(stops);
  if (!status.ok()) {
    std::cerr << "r1serve-generate: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
