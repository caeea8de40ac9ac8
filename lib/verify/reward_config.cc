#include "lib/verify/reward_config.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lib/base/sha256.h"
#include "lib/verify/verifier_version.h"

namespace r1serve::verify {
namespace {

// A canonical JSON form: nlohmann::json keeps object keys sorted and prints doubles in their
// shortest round-trip form, so equal configurations always give equal bytes.
nlohmann::json ConfigJson(const RewardConfig& config) {
  const MathVerifierOptions& m = config.math;
  const CodeLimits& c = config.code_limits;
  return {
      {"verifier_version", std::string(kVerifierVersion)},
      {"math",
       {{"max_tail_bytes", m.max_tail_bytes},
        {"max_answer_bytes", m.max_answer_bytes},
        {"max_expression_depth", m.max_expression_depth},
        {"max_exponent", m.max_exponent},
        {"max_factorial", m.max_factorial},
        {"max_exact_bits", m.max_exact_bits},
        {"max_polynomial_terms", m.max_polynomial_terms},
        {"max_plus_minus", m.max_plus_minus},
        {"numeric_points", m.numeric_points},
        {"relative_tolerance", m.relative_tolerance},
        {"min_rounding_significant_digits", m.min_rounding_significant_digits}}},
      {"code",
       {{"test_timeout_us", absl::ToInt64Microseconds(c.test_timeout)},
        {"memory_bytes", c.memory_bytes},
        {"max_output_bytes", c.max_output_bytes},
        {"max_file_bytes", c.max_file_bytes},
        {"max_processes", c.max_processes}}},
      {"format", {{"partial_credit", config.format.partial_credit}}},
  };
}

nlohmann::json SpecJson(const RewardSpec& spec) {
  nlohmann::json components = nlohmann::json::array();
  for (const ComponentWeight& entry : spec.components) {
    components.push_back({std::string(ComponentName(entry.component)), entry.weight});
  }
  nlohmann::json json = {{"components", components}};
  // Code scoring changes nothing without a code component: leave it out so that such specs
  // hash alike whatever it says.
  for (const ComponentWeight& entry : spec.components) {
    if (entry.component == RewardComponent::kCodeTests) {
      json["code_scoring"] = std::string(CodeScoringName(spec.code_scoring));
    }
  }
  return json;
}

}  // namespace

std::string ConfigHash(const RewardConfig& config) { return Sha256Hex(ConfigJson(config).dump()); }

std::string ConfigJsonText(const RewardConfig& config) { return ConfigJson(config).dump(); }

std::string ScoreConfigHash(const RewardConfig& config, const RewardSpec& spec) {
  return ScoreConfigHash(ConfigJsonText(config), spec);
}

std::string ScoreConfigHash(absl::string_view config_json_text, const RewardSpec& spec) {
  // Byte for byte the dump of {"config": ..., "spec": ...} (keys in sorted order, no spaces):
  // the hashes results have always carried.
  return Sha256Hex(
      absl::StrCat("{\"config\":", config_json_text, ",\"spec\":", SpecJson(spec).dump(), "}"));
}

}  // namespace r1serve::verify
