// The version every reward result carries (RewardResult.verifier_version). Bump it with any
// change that can change a score for the same item and configuration: together with the
// configuration hash it is what makes scores reproducible across runs and machines.
//
//   result.verifier_version = std::string(kVerifierVersion);
#pragma once

#include <string_view>

namespace r1serve::verify {

inline constexpr std::string_view kVerifierVersion = "r1serve-verify 0.1.0";

}  // namespace r1serve::verify
