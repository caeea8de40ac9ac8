#include "lib/engine/format/model_config.h"

#include <bit>
#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace r1serve::engine {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("model config: ", field, " ", problem));
}

// Floats enter the fingerprint as their exact bits: decimal printing could round two
// different values to the same text.
std::string FloatHex(float value) {
  return absl::StrFormat("%08x", std::bit_cast<uint32_t>(value));
}

}  // namespace

absl::string_view ArchitectureName(Architecture architecture) {
  switch (architecture) {
    case Architecture::kQwen2:
      return "qwen2";
    case Architecture::kLlama3:
      return "llama3";
  }
  return "?";
}

std::optional<Architecture> ArchitectureFromName(absl::string_view name) {
  for (Architecture a : {Architecture::kQwen2, Architecture::kLlama3}) {
    if (name == ArchitectureName(a)) return a;
  }
  return std::nullopt;
}

std::vector<float> ModelConfig::RopeInverseFrequencies() const {
  std::vector<float> result(static_cast<size_t>(head_dim / 2));
  for (size_t i = 0; i < result.size(); ++i) {
    double w = std::pow(rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    if (!rope_freq_factors.empty()) w /= static_cast<double>(rope_freq_factors[i]);
    result[i] = static_cast<float>(w);
  }
  return result;
}

absl::Status ValidateConfig(const ModelConfig& c) {
  const std::pair<absl::string_view, int64_t> positives[] = {
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"num_layers", c.num_layers},
      {"num_heads", c.num_heads},
      {"num_kv_heads", c.num_kv_heads},
      {"head_dim", c.head_dim},
      {"intermediate_size", c.intermediate_size},
      {"max_position_embeddings", c.max_position_embeddings},
  };
  for (const auto& [field, value] : positives) {
    if (value <= 0) return Invalid(field, absl::StrCat("must be positive, got ", value));
    // Keeps every product of two sizes (and byte counts) far from int64 overflow.
    if (value > (int64_t{1} << 24)) {
      return Invalid(field, absl::StrCat("is implausibly large: ", value));
    }
  }
  // Sizes come from untrusted files and the layer count multiplies work done before any tensor
  // is checked; real models have at most a few hundred layers.
  if (c.num_layers > 4096) {
    return Invalid("num_layers", absl::StrCat("is implausibly large: ", c.num_layers));
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    return Invalid("num_heads",
                   absl::StrCat("(", c.num_heads, ") must be a multiple of num_kv_heads (",
                                c.num_kv_heads, ")"));
  }
  if (c.head_dim % 2 != 0) {
    return Invalid("head_dim", absl::StrCat("must be even for rotary embedding, got ", c.head_dim));
  }
  if (!std::isfinite(c.rms_norm_eps) || c.rms_norm_eps <= 0) {
    return Invalid("rms_norm_eps",
                   absl::StrCat("must be finite and positive, got ", c.rms_norm_eps));
  }
  if (!std::isfinite(c.rope_theta) || c.rope_theta <= 0) {
    return Invalid("rope_theta", absl::StrCat("must be finite and positive, got ", c.rope_theta));
  }
  if (!c.rope_freq_factors.empty()) {
    if (static_cast<int64_t>(c.rope_freq_factors.size()) != c.head_dim / 2) {
      return Invalid("rope_freq_factors",
                     absl::StrCat("has ", c.rope_freq_factors.size(),
                                  " values, expected head_dim / 2 = ", c.head_dim / 2));
    }
    for (float f : c.rope_freq_factors) {
      if (!std::isfinite(f) || f <= 0) {
        return Invalid("rope_freq_factors", absl::StrCat("has a non-positive value ", f));
      }
    }
  }
  if (c.rope_scaling.type == RopeScalingType::kLlama3 && c.rope_freq_factors.empty()) {
    return Invalid("rope_scaling", "is llama3 but no frequency factors were derived");
  }
  for (const auto& [field, id] :
       {std::pair<absl::string_view, int64_t>{"bos_token_id", c.bos_token_id},
        {"eos_token_id", c.eos_token_id}}) {
    if (id < -1 || id >= c.vocab_size) {
      return Invalid(field, absl::StrCat(id, " is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

std::vector<float> Llama3RopeFreqFactors(int64_t head_dim, double rope_theta,
                                         const RopeScaling& s) {
  std::vector<float> factors(static_cast<size_t>(head_dim / 2));
  const double old_context = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  for (size_t i = 0; i < factors.size(); ++i) {
    const double freq =
        std::pow(rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double factor;
    if (wavelen < high_freq_wavelen) {
      factor = 1.0;
    } else if (wavelen > low_freq_wavelen) {
      factor = s.factor;
    } else {
      const double smooth =
          (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      factor = 1.0 / ((1.0 - smooth) / s.factor + smooth);
    }
    factors[i] = static_cast<float>(factor);
  }
  return factors;
}

std::string NumericConfigText(const ModelConfig& c) {
  std::string text =
      absl::StrCat("architecture=", ArchitectureName(c.architecture), "\nvocab_size=", c.vocab_size,
                   "\nhidden_size=", c.hidden_size, "\nnum_layers=", c.num_layers,
                   "\nnum_heads=", c.num_heads, "\nnum_kv_heads=", c.num_kv_heads,
                   "\nhead_dim=", c.head_dim, "\nintermediate_size=", c.intermediate_size,
                   "\nrms_norm_eps=", FloatHex(static_cast<float>(c.rms_norm_eps)),
                   "\nrope_theta=", FloatHex(static_cast<float>(c.rope_theta)),
                   "\ntie_word_embeddings=", c.tie_word_embeddings ? 1 : 0,
                   "\nattention_bias=", c.attention_bias ? 1 : 0, "\nrope_freq_factors=");
  for (float f : c.rope_freq_factors) absl::StrAppend(&text, FloatHex(f), ",");
  text += "\n";
  return text;
}

}  // namespace r1serve::engine
