#include "lib/engine/runtime/kv_snapshot.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/status_macros.h"

namespace r1serve::engine {

absl::Status CheckKvCompatible(const KvHeader& ours, const KvHeader& theirs) {
  std::vector<std::string> diffs;
  const auto differ = [&](const char* field, const auto& a, const auto& b) {
    if (a != b) diffs.push_back(absl::StrCat(field, " ", a, " vs ", b));
  };
  differ("model_fingerprint", ours.model_fingerprint, theirs.model_fingerprint);
  differ("dtype", DTypeName(ours.dtype), DTypeName(theirs.dtype));
  differ("block_size", ours.block_size, theirs.block_size);
  differ("num_layers", ours.num_layers, theirs.num_layers);
  differ("num_kv_heads", ours.num_kv_heads, theirs.num_kv_heads);
  differ("head_dim", ours.head_dim, theirs.head_dim);
  differ("block_bytes", ours.block_bytes, theirs.block_bytes);
  if (diffs.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the KV cannot be imported: this engine and the exporter differ in ",
                   absl::StrJoin(diffs, ", "), " (ours vs theirs)"));
}

absl::Status CheckKvSnapshot(const KvHeader& ours, const KvSnapshot& snapshot) {
  RETURN_IF_ERROR(CheckKvCompatible(ours, snapshot.header));
  if (snapshot.token_ids.empty()) {
    return absl::InvalidArgumentError("the KV snapshot holds no tokens");
  }
  if (static_cast<int>(snapshot.layers.size()) != ours.num_layers) {
    return absl::InvalidArgumentError(absl::StrCat("the KV snapshot has ", snapshot.layers.size(),
                                                   " layers, the model ", ours.num_layers));
  }
  const size_t layer_bytes =
      2 * static_cast<size_t>(snapshot.num_blocks()) * static_cast<size_t>(ours.block_bytes);
  for (size_t l = 0; l < snapshot.layers.size(); ++l) {
    if (snapshot.layers[l].size() != layer_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the KV snapshot's layer ", l, " has ", snapshot.layers[l].size(), " bytes; ",
          snapshot.num_tokens(), " tokens in blocks of ", ours.block_size, " need ", layer_bytes));
    }
  }
  return absl::OkStatus();
}

}  // namespace r1serve::engine
