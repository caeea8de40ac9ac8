#include "lib/engine/format/model.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/sha256.h"
#include "lib/base/status_macros.h"
#include "lib/engine/format/architecture.h"

namespace r1serve::engine {
namespace {

constexpr int64_t kSampleBytes = 4096;

void AppendSample(const TensorView& t, std::string* out) {
  const char* data = reinterpret_cast<const char*>(t.data);
  const int64_t size = t.size_bytes;
  if (size <= 3 * kSampleBytes) {
    out->append(data, static_cast<size_t>(size));
    return;
  }
  out->append(data, kSampleBytes);
  out->append(data + size / 2 - kSampleBytes / 2, kSampleBytes);
  out->append(data + size - kSampleBytes, kSampleBytes);
}

std::string Fingerprint(const ModelConfig& config, const std::vector<TensorView>& tensors) {
  std::string text = "r1serve-model-fingerprint-v1\n";
  text += NumericConfigText(config);
  for (const TensorView& t : tensors) {
    absl::StrAppend(&text, t.name, " ", DTypeName(t.dtype), " ", absl::StrJoin(t.shape, "x"), " ",
                    t.size_bytes, "\n");
    AppendSample(t, &text);
  }
  return Sha256Hex(text);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> Model::Assemble(ModelParts parts) {
  RETURN_IF_ERROR(ValidateConfig(parts.config));
  const std::vector<ExpectedTensor> expected = ExpectedTensors(parts.config);
  if (expected.size() != parts.tensors.size()) {
    return absl::InternalError(absl::StrCat(parts.source, ": reader produced ",
                                            parts.tensors.size(), " tensors, the architecture has ",
                                            expected.size()));
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const TensorView& t = parts.tensors[i];
    if (t.name != expected[i].canonical || t.shape != expected[i].shape || t.data == nullptr ||
        t.cols() % BlockValues(t.dtype) != 0 || t.size_bytes != t.rows() * t.row_bytes()) {
      return absl::InternalError(absl::StrCat(
          parts.source, ": reader produced tensor ", t.name, " ", ShapeText(t.shape), " where ",
          expected[i].canonical, " ", ShapeText(expected[i].shape), " belongs"));
    }
  }
  std::unique_ptr<Model> model(new Model(std::move(parts)));
  const auto get = [&](const std::string& name) { return model->FindTensor(name); };
  model->token_embd_ = get("token_embd");
  model->output_norm_ = get("output_norm");
  model->output_ = model->config().tie_word_embeddings ? model->token_embd_ : get("output");
  for (int64_t i = 0; i < model->config().num_layers; ++i) {
    const std::string p = absl::StrCat("blk.", i, ".");
    LayerWeights l;
    l.attn_norm = get(p + "attn_norm");
    l.wq = get(p + "wq");
    l.wk = get(p + "wk");
    l.wv = get(p + "wv");
    l.bq = get(p + "bq");
    l.bk = get(p + "bk");
    l.bv = get(p + "bv");
    l.wo = get(p + "wo");
    l.ffn_norm = get(p + "ffn_norm");
    l.w_gate = get(p + "w_gate");
    l.w_up = get(p + "w_up");
    l.w_down = get(p + "w_down");
    model->layers_.push_back(l);
  }
  for (const TensorView& t : model->tensors()) model->weight_bytes_ += t.size_bytes;
  model->fingerprint_ = Fingerprint(model->config(), model->tensors());
  return model;
}

const TensorView* Model::FindTensor(absl::string_view canonical_name) const {
  // A few hundred tensors, looked up at assembly: a linear scan keeps Model simple.
  for (const TensorView& t : parts_.tensors) {
    if (t.name == canonical_name) return &t;
  }
  return nullptr;
}

void Model::ReleaseTensorPages(const TensorView& tensor) const {
  const auto bytes = static_cast<size_t>(tensor.size_bytes);
  if (parts_.gguf != nullptr && parts_.gguf->mapping() != nullptr &&
      parts_.gguf->mapping()->ReleasePages(tensor.data, bytes)) {
    return;
  }
  for (const auto& shard : parts_.shards) {
    if (shard->mapping() != nullptr && shard->mapping()->ReleasePages(tensor.data, bytes)) return;
  }
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or folder"));
  }
  return S_ISDIR(info.st_mode) ? LoadHfModel(path) : LoadGgufModel(path);
}

}  // namespace r1serve::engine
