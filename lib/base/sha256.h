// SHA-256 as lowercase hex, for fingerprints that two services compare (tokenizer.json bytes,
// later model weights). OpenSSL's implementation: it is already linked through gRPC.
//
//   std::string fingerprint = r1serve::Sha256Hex(file_bytes);  // 64 hex digits
#pragma once

#include <string>
#include <string_view>

namespace r1serve {

std::string Sha256Hex(std::string_view bytes);

}  // namespace r1serve
