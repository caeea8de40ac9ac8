#include "tools/score/score_jsonl.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/status_macros.h"

namespace r1serve::tools {
namespace {

using Json = nlohmann::ordered_json;  // keeps the order of a composite spec's components
using verify::RewardComponent;
using verify::TaskType;

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

// The string at `key`, "" when absent; an error when present and not a string.
absl::StatusOr<std::string> OptionalString(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Invalid(absl::StrCat("\"", key, "\" must be a string"));
  return it->get<std::string>();
}

absl::StatusOr<TaskType> TaskTypeNamed(const std::string& name) {
  for (TaskType type : {TaskType::kMath, TaskType::kFormat, TaskType::kLanguage, TaskType::kCode}) {
    if (name == verify::TaskTypeName(type)) return type;
  }
  return Invalid(absl::StrCat("unknown task \"", name,
                              "\" (use math, format, language, code or a composite spec)"));
}

absl::StatusOr<RewardComponent> ComponentNamed(const std::string& name) {
  if (name == "math" || name == "math_answer") return RewardComponent::kMathAnswer;
  if (name == "code" || name == "code_tests") return RewardComponent::kCodeTests;
  if (name == "format") return RewardComponent::kFormat;
  if (name == "language" || name == "language_consistency") {
    return RewardComponent::kLanguageConsistency;
  }
  return Invalid(
      absl::StrCat("unknown component \"", name, "\" (use math, code, format or language)"));
}

absl::StatusOr<verify::CodeScoring> ScoringNamed(const Json& value) {
  if (!value.is_string()) return Invalid("\"code_scoring\" must be a string");
  const std::string name = value.get<std::string>();
  if (name == "all_or_nothing") return verify::CodeScoring::kAllOrNothing;
  if (name == "fraction_passed") return verify::CodeScoring::kFractionPassed;
  return Invalid(
      absl::StrCat("unknown code_scoring \"", name, "\" (use all_or_nothing or fraction_passed)"));
}

absl::Status AddComponent(const std::string& name, const Json& weight, verify::RewardSpec& spec) {
  ASSIGN_OR_RETURN(RewardComponent component, ComponentNamed(name));
  if (!weight.is_number())
    return Invalid(absl::StrCat("weight of \"", name, "\" must be a number"));
  spec.components.push_back({component, weight.get<double>()});
  return absl::OkStatus();
}

// {"components": [{"component": "math", "weight": 1}, …], "code_scoring": …} or the shorthand
// {"math": 1, "format": 0.1, "code_scoring": …}.
absl::Status ParseSpec(const Json& task, verify::RewardSpec& spec) {
  for (const auto& [key, value] : task.items()) {
    if (key == "code_scoring") {
      ASSIGN_OR_RETURN(spec.code_scoring, ScoringNamed(value));
    } else if (key == "components") {
      if (!value.is_array()) return Invalid("\"components\" must be an array");
      for (const Json& entry : value) {
        if (!entry.is_object() || !entry.contains("component") || !entry["component"].is_string()) {
          return Invalid("each component needs a \"component\" name");
        }
        RETURN_IF_ERROR(AddComponent(entry["component"].get<std::string>(),
                                     entry.value("weight", Json(1.0)), spec));
      }
    } else {
      RETURN_IF_ERROR(AddComponent(key, value, spec));
    }
  }
  if (spec.components.empty()) return Invalid("the composite spec names no component");
  return absl::OkStatus();
}

// A JSON value given either as a string of JSON (`string_key`) or as the value (`value_key`).
absl::StatusOr<std::string> JsonText(const Json& test, const char* string_key,
                                     const char* value_key) {
  if (test.contains(string_key)) return OptionalString(test, string_key);
  if (test.contains(value_key)) return test[value_key].dump();
  return Invalid(
      absl::StrCat("a function-call test needs \"", value_key, "\" or \"", string_key, "\""));
}

absl::StatusOr<verify::CodeTestCase> ParseTest(const Json& test, size_t index) {
  if (!test.is_object()) return Invalid(absl::StrCat("test ", index + 1, " is not an object"));
  if (test.contains("function_name")) {
    verify::FunctionCallCase call;
    ASSIGN_OR_RETURN(call.function_name, OptionalString(test, "function_name"));
    ASSIGN_OR_RETURN(call.arguments_json, JsonText(test, "arguments_json", "arguments"));
    ASSIGN_OR_RETURN(call.expected_return_json, JsonText(test, "expected_return_json", "expected"));
    return call;
  }
  if (test.contains("stdin") || test.contains("expected_stdout")) {
    verify::StdioCase stdio;
    ASSIGN_OR_RETURN(stdio.stdin_data, OptionalString(test, "stdin"));
    ASSIGN_OR_RETURN(stdio.expected_stdout, OptionalString(test, "expected_stdout"));
    return stdio;
  }
  return Invalid(
      absl::StrCat("test ", index + 1, " has neither stdin/expected_stdout nor function_name"));
}

absl::StatusOr<verify::RewardItem> ItemFromJson(const Json& json, bool default_starts) {
  if (!json.is_object()) return Invalid("the line is not a JSON object");
  verify::RewardItem item;
  ASSIGN_OR_RETURN(item.id, OptionalString(json, "id"));
  ASSIGN_OR_RETURN(item.prompt, OptionalString(json, "prompt"));
  if (!json.contains("response") || !json["response"].is_string()) {
    return Invalid("\"response\" (a string) is required");
  }
  item.response = json["response"].get<std::string>();
  item.starts_in_reasoning = default_starts;
  if (json.contains("starts_in_reasoning")) {
    if (!json["starts_in_reasoning"].is_boolean()) {
      return Invalid("\"starts_in_reasoning\" must be true or false");
    }
    item.starts_in_reasoning = json["starts_in_reasoning"].get<bool>();
  }
  if (json.contains("timeout_s")) {
    if (!json["timeout_s"].is_number() || !std::isfinite(json["timeout_s"].get<double>())) {
      return Invalid("\"timeout_s\" must be a number");
    }
    item.timeout = absl::Seconds(json["timeout_s"].get<double>());
  }

  if (!json.contains("task")) return Invalid("\"task\" is required");
  const Json& task = json["task"];
  if (task.is_string()) {
    ASSIGN_OR_RETURN(item.task.type, TaskTypeNamed(task.get<std::string>()));
  } else if (task.is_object()) {
    item.task.type = TaskType::kComposite;
    RETURN_IF_ERROR(ParseSpec(task, item.task.spec));
  } else {
    return Invalid("\"task\" must be a task name or a composite spec object");
  }
  if (json.contains("code_scoring")) {
    ASSIGN_OR_RETURN(item.task.spec.code_scoring, ScoringNamed(json["code_scoring"]));
  }
  ASSIGN_OR_RETURN(item.task.reference_answer, OptionalString(json, "reference"));
  ASSIGN_OR_RETURN(item.task.target_language, OptionalString(json, "language"));
  ASSIGN_OR_RETURN(item.task.code.language, OptionalString(json, "code_language"));
  if (json.contains("tests")) {
    const Json& tests = json["tests"];
    if (!tests.is_array()) return Invalid("\"tests\" must be an array");
    for (size_t i = 0; i < tests.size(); ++i) {
      ASSIGN_OR_RETURN(verify::CodeTestCase test, ParseTest(tests[i], i));
      item.task.code.tests.push_back(std::move(test));
    }
  }
  return item;
}

std::string JoinedReason(const verify::RewardResult& result) {
  if (result.components.size() == 1) return result.components[0].reason;
  std::vector<std::string> parts;
  for (const verify::ComponentResult& c : result.components) {
    parts.push_back(absl::StrCat(verify::ComponentName(c.component), ": ", c.reason));
  }
  return absl::StrJoin(parts, "; ");
}

// Model text may hold invalid UTF-8; the output must stay valid JSON whatever it holds.
std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

absl::StatusOr<verify::RewardItem> ParseScoreLine(std::string_view line,
                                                  bool default_starts_in_reasoning) {
  Json json = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Invalid("the line is not valid JSON");
  return ItemFromJson(json, default_starts_in_reasoning);
}

std::string LineId(std::string_view line) {
  Json json = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("id") || !json["id"].is_string()) return "";
  return json["id"].get<std::string>();
}

std::string ResultLine(const verify::RewardResult& result, int64_t line_number) {
  if (!result.error.ok()) return ErrorLine(line_number, result.id, result.error);
  Json out;
  if (!result.id.empty()) out["id"] = result.id;
  out["reward"] = result.total_reward;
  out["verdict"] = verify::VerdictName(result.verdict);
  Json components = Json::array();
  for (const verify::ComponentResult& c : result.components) {
    components.push_back({{"component", verify::ComponentName(c.component)},
                          {"weight", c.weight},
                          {"reward", c.reward},
                          {"reason", c.reason}});
  }
  out["components"] = std::move(components);
  out["reason"] = JoinedReason(result);
  if (!result.extracted_answer.empty()) out["extracted_answer"] = result.extracted_answer;
  out["verify_us"] = absl::ToInt64Microseconds(result.verify_time);
  out["verifier_version"] = result.verifier_version;
  out["config_hash"] = result.config_hash;
  return Dump(out);
}

std::string ErrorLine(int64_t line_number, std::string_view id, const absl::Status& error) {
  Json out;
  if (!id.empty()) out["id"] = std::string(id);
  out["line"] = line_number;
  out["error"] = absl::StrCat("line ", line_number, ": ", error.message());
  out["code"] = absl::StatusCodeToString(error.code());
  return Dump(out);
}

}  // namespace r1serve::tools
