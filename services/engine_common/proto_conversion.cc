#include "services/engine_common/proto_conversion.h"

#include "absl/strings/str_cat.h"

namespace r1serve::services {
namespace {

v1::KvDtype KvDtypeToProto(engine::DType dtype) {
  switch (dtype) {
    case engine::DType::kF32:
      return v1::KV_DTYPE_F32;
    case engine::DType::kF16:
      return v1::KV_DTYPE_F16;
    case engine::DType::kBF16:
      return v1::KV_DTYPE_BF16;
    case engine::DType::kQ8_0:
      break;
  }
  return v1::KV_DTYPE_UNSPECIFIED;
}

}  // namespace

absl::StatusOr<engine::SamplingParams> SamplingFromProto(const v1::SamplingParams& proto) {
  engine::SamplingParams p;
  if (proto.has_temperature()) p.temperature = proto.temperature();
  if (proto.has_top_p()) p.top_p = proto.top_p();
  if (proto.has_top_k()) p.top_k = proto.top_k();
  if (proto.has_min_p()) p.min_p = proto.min_p();
  p.presence_penalty = proto.presence_penalty();
  p.frequency_penalty = proto.frequency_penalty();
  if (proto.has_repetition_penalty()) p.repetition_penalty = proto.repetition_penalty();
  if (proto.has_seed()) p.seed = proto.seed();
  p.stop.assign(proto.stop().begin(), proto.stop().end());
  p.stop_token_ids.assign(proto.stop_token_ids().begin(), proto.stop_token_ids().end());
  if (proto.has_max_tokens()) p.max_tokens = proto.max_tokens();
  p.min_tokens = proto.min_tokens();
  p.n = proto.n();
  if (proto.has_logprobs()) p.logprobs = proto.logprobs();
  p.ignore_eos = proto.ignore_eos();
  if (proto.has_skip_special_tokens()) p.skip_special_tokens = proto.skip_special_tokens();
  switch (proto.logprobs_mode()) {
    case v1::LOGPROBS_MODE_UNSPECIFIED:
      p.logprobs_mode = engine::LogprobsMode::kUnspecified;
      break;
    case v1::LOGPROBS_MODE_RAW:
      p.logprobs_mode = engine::LogprobsMode::kRaw;
      break;
    case v1::LOGPROBS_MODE_PROCESSED:
      p.logprobs_mode = engine::LogprobsMode::kProcessed;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("sampling.logprobs_mode: unknown value ", proto.logprobs_mode()));
  }
  return p;
}

v1::SamplingParams SamplingToProto(const engine::SamplingParams& p) {
  v1::SamplingParams proto;
  if (p.temperature) proto.set_temperature(*p.temperature);
  if (p.top_p) proto.set_top_p(*p.top_p);
  if (p.top_k) proto.set_top_k(*p.top_k);
  if (p.min_p) proto.set_min_p(*p.min_p);
  proto.set_presence_penalty(p.presence_penalty);
  proto.set_frequency_penalty(p.frequency_penalty);
  if (p.repetition_penalty) proto.set_repetition_penalty(*p.repetition_penalty);
  if (p.seed) proto.set_seed(*p.seed);
  for (const std::string& s : p.stop) proto.add_stop(s);
  for (int32_t id : p.stop_token_ids) proto.add_stop_token_ids(id);
  if (p.max_tokens) proto.set_max_tokens(*p.max_tokens);
  proto.set_min_tokens(p.min_tokens);
  proto.set_n(p.n);
  if (p.logprobs) proto.set_logprobs(*p.logprobs);
  proto.set_ignore_eos(p.ignore_eos);
  if (p.skip_special_tokens) proto.set_skip_special_tokens(*p.skip_special_tokens);
  proto.set_logprobs_mode(static_cast<v1::LogprobsMode>(static_cast<int>(p.logprobs_mode)));
  return proto;
}

v1::FinishReason FinishReasonToProto(engine::FinishReason reason) {
  // The engine's enum mirrors the proto's numbers (finish_reason.h).
  return static_cast<v1::FinishReason>(static_cast<int>(reason));
}

v1::TokenLogprob TokenLogprobToProto(int32_t token_id, std::optional<float> logprob,
                                     std::span<const engine::TokenLogprob> top) {
  v1::TokenLogprob proto;
  proto.set_token_id(token_id);
  if (logprob.has_value()) proto.set_logprob(*logprob);
  for (const engine::TokenLogprob& alt : top) {
    v1::TopLogprob* t = proto.add_top_logprobs();
    t->set_token_id(alt.token_id);
    t->set_logprob(alt.logprob);
  }
  return proto;
}

engine::SampledToken SampledTokenFromProto(const v1::TokenLogprob& proto) {
  engine::SampledToken token;
  token.token_id = proto.token_id();
  token.logprob = proto.logprob();
  for (const v1::TopLogprob& alt : proto.top_logprobs()) {
    token.top_logprobs.push_back({alt.token_id(), alt.logprob()});
  }
  return token;
}

v1::KvCacheSpec KvCacheSpecFromHeader(const engine::KvHeader& header) {
  v1::KvCacheSpec spec;
  spec.set_dtype(KvDtypeToProto(header.dtype));
  spec.set_layout(v1::KV_LAYOUT_BLOCK_HEAD_TOKEN_DIM);
  spec.set_block_size_tokens(static_cast<uint32_t>(header.block_size));
  spec.set_num_layers(static_cast<uint32_t>(header.num_layers));
  spec.set_num_kv_heads(static_cast<uint32_t>(header.num_kv_heads));
  spec.set_head_dim(static_cast<uint32_t>(header.head_dim));
  return spec;
}

absl::Status CheckKvCacheSpec(const engine::KvHeader& ours, const v1::KvCacheSpec& theirs) {
  const v1::KvCacheSpec mine = KvCacheSpecFromHeader(ours);
  auto differs = [](absl::string_view field, int64_t a, int64_t b) {
    return absl::FailedPreconditionError(absl::StrCat("KV cache ", field, " differs: ours ", a,
                                                      ", theirs ", b));
  };
  if (mine.dtype() != theirs.dtype()) {
    return absl::FailedPreconditionError(
        absl::StrCat("KV cache dtype differs: ours ", v1::KvDtype_Name(mine.dtype()), ", theirs ",
                     v1::KvDtype_Name(theirs.dtype())));
  }
  if (mine.layout() != theirs.layout()) return differs("layout", mine.layout(), theirs.layout());
  if (mine.block_size_tokens() != theirs.block_size_tokens()) {
    return differs("block_size_tokens", mine.block_size_tokens(), theirs.block_size_tokens());
  }
  if (mine.num_layers() != theirs.num_layers()) {
    return differs("num_layers", mine.num_layers(), theirs.num_layers());
  }
  if (mine.num_kv_heads() != theirs.num_kv_heads()) {
    return differs("num_kv_heads", mine.num_kv_heads(), theirs.num_kv_heads());
  }
  if (mine.head_dim() != theirs.head_dim()) {
    return differs("head_dim", mine.head_dim(), theirs.head_dim());
  }
  return absl::OkStatus();
}

}  // namespace r1serve::services
