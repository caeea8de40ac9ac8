// r1serve-make-model: writes a random-weight model of any shape as a Hugging Face folder and/or
// a GGUF file, with a real tokenizer, deterministically (the same flags give byte-identical
// files). No weights can be downloaded where this project runs; these models let the loaders,
// the engine, the benchmarks and llama.cpp (as an oracle loading the same GGUF) work anyway.
//
//   # tiny Qwen2 (R1-Distill-Qwen style) in both formats: /tmp/tiny (folder), /tmp/tiny.gguf
//   r1serve-make-model --arch qwen2 --hidden 64 --layers 2 --heads 4 --kv_heads 2
//       --intermediate 128 --dtype f16 --format both --out /tmp/tiny
//   # Qwen2-1.5B shapes (R1-Distill-Qwen-1.5B), F16 GGUF, ~3.5 GB
//   r1serve-make-model --arch qwen2 --hidden 1536 --layers 28 --heads 12 --kv_heads 2
//       --intermediate 8960 --max_pos 131072 --rope_theta 10000 --format gguf --out q15b.gguf
//   # Llama 3 (R1-Distill-Llama style) with llama3 rope scaling, Q8_0 GGUF
//   r1serve-make-model --arch llama3 --format gguf --dtype q8_0 --out /tmp/llama.gguf
//
// --format both writes the folder at --out and the GGUF file at --out + ".gguf". Afterwards
// each written model is loaded back (lib/engine/format) and one JSON line is printed:
//   {"hf":"/tmp/tiny","gguf":"/tmp/tiny.gguf","parameters":N,"seconds":S,
//    "fingerprints":{"hf":"...","gguf":"..."}}
// Exit status 1 on bad flags or any error (message on stderr).
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/engine/format/architecture.h"
#include "lib/engine/format/model.h"
#include "lib/engine/format/random_model.h"
#include "lib/engine/format/tokenizer_files.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, arch, "qwen2",
          "Architecture: qwen2 (R1-Distill-Qwen) or llama3 (R1-Distill-Llama).");
ABSL_FLAG(int64_t, hidden, 64, "hidden_size.");
ABSL_FLAG(int64_t, layers, 2, "Number of transformer layers.");
ABSL_FLAG(int64_t, heads, 4, "Attention (query) heads.");
ABSL_FLAG(int64_t, kv_heads, 2, "Key/value heads (GQA); must divide --heads.");
ABSL_FLAG(int64_t, head_dim, 0, "Head size; 0 = hidden / heads.");
ABSL_FLAG(int64_t, intermediate, 128, "FFN intermediate_size.");
ABSL_FLAG(int64_t, vocab, 0,
          "Vocabulary size; 0 = the tokenizer's (ids beyond it get [PAD<i>] tokens).");
ABSL_FLAG(int64_t, max_pos, 131072, "max_position_embeddings / GGUF context_length.");
ABSL_FLAG(double, rope_theta, 0, "RoPE base; 0 = the family's (qwen2 10000, llama3 500000).");
ABSL_FLAG(double, rms_norm_eps, 0, "RMSNorm epsilon; 0 = the family's (qwen2 1e-6, llama3 1e-5).");
ABSL_FLAG(std::string, rope_scaling, "",
          "none or llama3; empty = llama3 for --arch llama3, else none.");
ABSL_FLAG(double, rope_factor, 8.0, "llama3 rope scaling: factor.");
ABSL_FLAG(double, rope_low_freq_factor, 1.0, "llama3 rope scaling: low_freq_factor.");
ABSL_FLAG(double, rope_high_freq_factor, 4.0, "llama3 rope scaling: high_freq_factor.");
ABSL_FLAG(int64_t, rope_original_max_pos, 8192,
          "llama3 rope scaling: original_max_position_embeddings.");
ABSL_FLAG(bool, tie_embeddings, false, "Tie the output projection to token_embd.");
ABSL_FLAG(bool, attention_bias, false, "llama3 only: q/k/v biases (qwen2 always has them).");
ABSL_FLAG(std::string, dtype, "f16",
          "Weight type: f32, f16, bf16 or q8_0 (q8_0: GGUF; the HF copy is f16).");
ABSL_FLAG(std::string, format, "both",
          "hf (folder), gguf (file) or both (folder --out, file --out.gguf).");
ABSL_FLAG(std::string, tokenizer, R1SERVE_DEFAULT_TOKENIZER_DIR,
          "Folder with tokenizer.json and tokenizer_config.json (default: DeepSeek-V3/R1's, from "
          "the npm test peers); \"none\" for no tokenizer (then --vocab is required).");
ABSL_FLAG(bool, r1_think_tokens, true,
          "When the tokenizer has DeepSeek's placeholders 128798/128799, name them <think> and "
          "</think> and use R1's chat template, as DeepSeek-R1's own tokenizer does.");
ABSL_FLAG(std::string, gguf_pre, "", "tokenizer.ggml.pre; empty = recognized from the tokenizer.");
ABSL_FLAG(uint64_t, seed, 0, "Seed of the weights.");
ABSL_FLAG(double, weight_std, 0.02, "Standard deviation of the random weights.");
ABSL_FLAG(double, output_scale, 1.0,
          "Multiplies the output projection (lm_head) so that logits are decisive, not flat.");
ABSL_FLAG(int64_t, shard_mb, 0,
          "HF: split the safetensors into shards of at most this many MB; 0 = one file.");
ABSL_FLAG(int32_t, threads, 0, "Threads generating weights; 0 = all cores.");
ABSL_FLAG(std::string, name, "", "GGUF general.name; empty = r1serve-random-<arch>.");
ABSL_FLAG(std::string, out, "",
          "Output path (required): the folder (hf, both) or the .gguf file (gguf).");
ABSL_FLAG(bool, verify, true, "Load every written model back and print its fingerprint.");
ABSL_FLAG(std::string, inspect, "",
          "Write nothing: load the model at this path (folder or .gguf) and print its config, "
          "fingerprint and size as one JSON line.");

namespace r1serve::tools {
namespace {

using engine::DType;
using engine::ModelConfig;
using engine::RandomModelOptions;

struct Family {
  engine::Architecture architecture;
  double rope_theta;
  double rms_norm_eps;
  bool llama3_scaling;
};

// The published R1-Distill models' values, used when a flag is left at 0 / empty.
constexpr Family kFamilies[] = {
    {engine::Architecture::kQwen2, 10000.0, 1e-6, false},
    {engine::Architecture::kLlama3, 500000.0, 1e-5, true},
};

absl::StatusOr<RandomModelOptions> OptionsFromFlags(const engine::TokenizerFiles* tokenizer) {
  const std::string arch = absl::GetFlag(FLAGS_arch);
  const std::optional<engine::Architecture> architecture = engine::ArchitectureFromName(arch);
  if (!architecture)
    return absl::InvalidArgumentError(absl::StrCat("--arch ", arch, ": use qwen2 or llama3"));
  const Family* family = nullptr;
  for (const Family& f : kFamilies) {
    if (f.architecture == *architecture) family = &f;
  }
  RandomModelOptions options;
  ModelConfig& c = options.config;
  c.architecture = *architecture;
  c.hidden_size = absl::GetFlag(FLAGS_hidden);
  c.num_layers = absl::GetFlag(FLAGS_layers);
  c.num_heads = absl::GetFlag(FLAGS_heads);
  c.num_kv_heads = absl::GetFlag(FLAGS_kv_heads);
  c.head_dim = absl::GetFlag(FLAGS_head_dim);
  if (c.head_dim == 0 && c.num_heads > 0) {
    if (c.hidden_size % c.num_heads != 0) {
      return absl::InvalidArgumentError(
          "--hidden must be a multiple of --heads unless --head_dim is given");
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  c.intermediate_size = absl::GetFlag(FLAGS_intermediate);
  c.max_position_embeddings = absl::GetFlag(FLAGS_max_pos);
  c.rope_theta =
      absl::GetFlag(FLAGS_rope_theta) > 0 ? absl::GetFlag(FLAGS_rope_theta) : family->rope_theta;
  c.rms_norm_eps = absl::GetFlag(FLAGS_rms_norm_eps) > 0 ? absl::GetFlag(FLAGS_rms_norm_eps)
                                                         : family->rms_norm_eps;
  const std::string scaling = absl::GetFlag(FLAGS_rope_scaling);
  if (scaling == "llama3" || (scaling.empty() && family->llama3_scaling)) {
    c.rope_scaling = {engine::RopeScalingType::kLlama3, absl::GetFlag(FLAGS_rope_factor),
                      absl::GetFlag(FLAGS_rope_low_freq_factor),
                      absl::GetFlag(FLAGS_rope_high_freq_factor),
                      absl::GetFlag(FLAGS_rope_original_max_pos)};
  } else if (!scaling.empty() && scaling != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("--rope_scaling ", scaling, ": use none or llama3"));
  }
  c.tie_word_embeddings = absl::GetFlag(FLAGS_tie_embeddings);
  c.attention_bias = absl::GetFlag(FLAGS_attention_bias);
  c.vocab_size = absl::GetFlag(FLAGS_vocab);
  if (tokenizer != nullptr) {
    if (c.vocab_size == 0) c.vocab_size = tokenizer->size();
    if (c.vocab_size < tokenizer->size()) {
      return absl::InvalidArgumentError(absl::StrCat("--vocab ", c.vocab_size,
                                                     " is smaller than the tokenizer's ",
                                                     tokenizer->size(), " tokens"));
    }
    c.bos_token_id = tokenizer->bos_id;
    c.eos_token_id = tokenizer->eos_id;
  } else if (c.vocab_size <= 0) {
    return absl::InvalidArgumentError("--vocab is required without a tokenizer");
  }

  const std::string dtype = absl::GetFlag(FLAGS_dtype);
  const std::optional<DType> parsed = engine::DTypeFromName(dtype);
  if (!parsed)
    return absl::InvalidArgumentError(
        absl::StrCat("--dtype ", dtype, ": use f32, f16, bf16 or q8_0"));
  options.dtype = *parsed;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.weight_std = absl::GetFlag(FLAGS_weight_std);
  options.output_scale = absl::GetFlag(FLAGS_output_scale);
  options.shard_bytes = absl::GetFlag(FLAGS_shard_mb) << 20;
  options.threads = absl::GetFlag(FLAGS_threads) > 0
                        ? absl::GetFlag(FLAGS_threads)
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.name = absl::GetFlag(FLAGS_name);
  return options;
}

int64_t ParameterCount(const ModelConfig& c) {
  int64_t total = 0;
  for (const engine::ExpectedTensor& t : engine::ExpectedTensors(c)) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    total += n;
  }
  return total;
}

nlohmann::json ConfigJson(const ModelConfig& c) {
  nlohmann::json j = {
      {"architecture", std::string(engine::ArchitectureName(c.architecture))},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"num_layers", c.num_layers},
      {"num_heads", c.num_heads},
      {"num_kv_heads", c.num_kv_heads},
      {"head_dim", c.head_dim},
      {"intermediate_size", c.intermediate_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"rope_scaling", c.rope_scaling.type == engine::RopeScalingType::kLlama3 ? "llama3" : "none"},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"attention_bias", c.attention_bias},
      {"bos_token_id", c.bos_token_id},
      {"eos_token_id", c.eos_token_id}};
  return j;
}

absl::Status Inspect(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<engine::Model> model, engine::LoadModel(path));
  nlohmann::json report = {
      {"path", path},
      {"format", model->format() == engine::ModelFormat::kGguf ? "gguf" : "hf"},
      {"config", ConfigJson(model->config())},
      {"fingerprint", model->fingerprint()},
      {"weight_bytes", model->weight_bytes()},
      {"load_seconds",
       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
  std::printf("%s\n", report.dump().c_str());
  return absl::OkStatus();
}

absl::Status Run() {
  if (const std::string path = absl::GetFlag(FLAGS_inspect); !path.empty()) return Inspect(path);
  const std::string format = absl::GetFlag(FLAGS_format);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return absl::InvalidArgumentError("--out is required");
  if (format != "hf" && format != "gguf" && format != "both") {
    return absl::InvalidArgumentError(absl::StrCat("--format ", format, ": use hf, gguf or both"));
  }
  const auto start = std::chrono::steady_clock::now();
  std::optional<engine::TokenizerFiles> tokenizer;
  if (const std::string dir = absl::GetFlag(FLAGS_tokenizer); !dir.empty() && dir != "none") {
    ASSIGN_OR_RETURN(tokenizer, engine::LoadTokenizerFiles(
                                    dir, {.r1_think_tokens = absl::GetFlag(FLAGS_r1_think_tokens),
                                          .gguf_pre = absl::GetFlag(FLAGS_gguf_pre)}));
  }
  const engine::TokenizerFiles* tok = tokenizer ? &*tokenizer : nullptr;
  ASSIGN_OR_RETURN(RandomModelOptions options, OptionsFromFlags(tok));
  if (options.dtype == DType::kQ8_0 && format == "hf") {
    return absl::InvalidArgumentError(
        "--dtype q8_0 exists only in GGUF: use --format gguf or both");
  }

  nlohmann::json report;
  std::vector<std::pair<std::string, std::string>> written;  // (format, path)
  if (format != "gguf") {
    RETURN_IF_ERROR(engine::WriteHfModel(options, tok, out));
    written.emplace_back("hf", out);
  }
  if (format != "hf") {
    const std::string file = format == "both" ? out + ".gguf" : out;
    RETURN_IF_ERROR(engine::WriteGgufModel(options, tok, file));
    written.emplace_back("gguf", file);
  }
  report["parameters"] = ParameterCount(options.config);
  report["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [kind, path] : written) {
    report[kind] = path;
    if (absl::GetFlag(FLAGS_verify)) {
      ASSIGN_OR_RETURN(std::unique_ptr<engine::Model> model, engine::LoadModel(path));
      report["fingerprints"][kind] = model->fingerprint();
      report["weight_bytes"][kind] = model->weight_bytes();
    }
  }
  std::printf("%s\n", report.dump().c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace r1serve::tools

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "writes a random-weight Qwen2 / Llama 3 model (HF folder and/or GGUF) with a real "
      "tokenizer.\n"
      "  r1serve-make-model --arch qwen2 --hidden 64 --layers 2 --heads 4 --kv_heads 2 \\\n"
      "      --intermediate 128 --dtype f16 --format both --out /tmp/tiny");
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "tools/make_model/");
  };
  absl::SetFlagsUsageConfig(usage_config);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::fprintf(stderr, "r1serve-make-model: unexpected argument %s (--help lists the flags)\n",
                 positional[1]);
    return 1;
  }
  const absl::Status status = r1serve::tools::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "r1serve-make-model: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
