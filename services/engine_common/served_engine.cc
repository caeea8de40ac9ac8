#include "services/engine_common/served_engine.h"

#include <algorithm>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/engine/backend/cpu_backend.h"
#include "lib/engine/format/architecture.h"
#include "lib/engine/runtime/generation_config.h"
#include "lib/engine/runtime/model_tokenizer.h"
#include "lib/rpc/logging.h"
#include "services/engine_common/proto_conversion.h"

ABSL_FLAG(std::string, model, "", "Model: a Hugging Face folder or a GGUF file (required).");
ABSL_FLAG(std::string, model_name, "default", "The name requests use for the served model.");
ABSL_FLAG(std::string, instance_id, "", "Name of this instance in load reports (e.g. the pod).");
ABSL_FLAG(int, threads, 0, "CPU threads of the forward pass; 0 = all cores.");
ABSL_FLAG(int, kv_cache_mb, 1024, "KV cache size in MiB (when --kv_blocks is 0).");
ABSL_FLAG(int, kv_blocks, 0, "KV cache blocks; 0 = from --kv_cache_mb.");
ABSL_FLAG(std::string, kv_dtype, "f16", "KV cache element type: f16 or f32.");
ABSL_FLAG(int, block_size, 16, "Tokens per KV block.");
ABSL_FLAG(int, max_batch_tokens, 2048, "Rows of one forward pass (prefill chunk budget).");
ABSL_FLAG(int, max_num_seqs, 64, "Sequences in the running batch.");
ABSL_FLAG(int, max_model_len, 0, "Context window; 0 = the model's (capped by the cache).");
ABSL_FLAG(bool, enable_prefix_caching, true, "Reuse the KV of prompt prefixes seen before.");
ABSL_FLAG(int, max_samples, 64, "Most samples (SamplingParams.n) per request.");

namespace r1serve::services {

absl::StatusOr<ServedEngine> LoadServedEngineFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_model);
  if (path.empty()) return absl::InvalidArgumentError("--model is required (folder or .gguf)");
  ASSIGN_OR_RETURN(std::unique_ptr<engine::Model> loaded, engine::LoadModel(path));
  std::shared_ptr<const engine::Model> model = std::move(loaded);
  std::shared_ptr<const text::Tokenizer> tokenizer;
  if (absl::StatusOr<engine::ModelTokenizer> t = engine::LoadModelTokenizer(*model); t.ok()) {
    tokenizer = t->tokenizer;
  } else if (!absl::IsNotFound(t.status())) {
    return t.status();
  }
  ASSIGN_OR_RETURN(engine::GenerationConfig generation, engine::LoadGenerationConfig(*model));

  engine::EngineOptions options;
  options.num_kv_blocks = absl::GetFlag(FLAGS_kv_blocks);
  options.kv_cache_bytes = int64_t{absl::GetFlag(FLAGS_kv_cache_mb)} << 20;
  const std::string kv_dtype = absl::GetFlag(FLAGS_kv_dtype);
  if (kv_dtype != "f16" && kv_dtype != "f32") {
    return absl::InvalidArgumentError(absl::StrCat("--kv_dtype ", kv_dtype, ": want f16 or f32"));
  }
  options.kv_dtype = kv_dtype == "f16" ? engine::DType::kF16 : engine::DType::kF32;
  options.block_size = absl::GetFlag(FLAGS_block_size);
  options.max_num_batched_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  options.max_num_seqs = absl::GetFlag(FLAGS_max_num_seqs);
  options.max_model_len = absl::GetFlag(FLAGS_max_model_len);
  options.enable_prefix_caching = absl::GetFlag(FLAGS_enable_prefix_caching);
  options.sampling_defaults = generation.defaults;
  options.sampling_limits.max_n = static_cast<uint32_t>(std::max(1, absl::GetFlag(FLAGS_max_samples)));
  options.eos_token_ids = generation.eos_token_ids;
  ASSIGN_OR_RETURN(
      std::unique_ptr<engine::Engine> engine,
      engine::Engine::Create(model,
                             engine::CreateCpuBackend({.num_threads = absl::GetFlag(FLAGS_threads)}),
                             tokenizer, options));

  ServedEngine served;
  served.model_name = absl::GetFlag(FLAGS_model_name);
  served.instance_id = absl::GetFlag(FLAGS_instance_id);
  served.model = model;
  v1::ModelInfo& info = served.info;
  info.set_name(served.model_name);
  info.set_architecture(std::string(
      engine::GetArchitectureSpec(model->config().architecture).hf_model_type));
  info.set_fingerprint(model->fingerprint());
  *info.mutable_kv_cache() = KvCacheSpecFromHeader(engine->kv_header());
  info.set_max_context_tokens(static_cast<uint32_t>(engine->max_model_len()));
  info.set_vocab_size(static_cast<uint32_t>(model->config().vocab_size));
  for (int32_t id : engine->eos_token_ids()) info.add_eos_token_ids(id);
  engine::SamplingParams defaults =
      engine::ResolveSamplingParams(engine::SamplingParams{}, options.sampling_defaults);
  *info.mutable_default_sampling() = SamplingToProto(defaults);
  served.loop = std::make_unique<engine::EngineLoop>(std::move(engine));
  return served;
}

absl::Status CheckModelName(const ServedEngine& served, const std::string& requested) {
  if (requested.empty() || requested == served.model_name) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("unknown model '", requested, "'; this instance serves '",
                                          served.model_name, "'"));
}

v1::LoadReport BuildLoadReport(const ServedEngine& served, v1::Role role,
                               const ServiceLoadCounters& counters,
                               const v1::LoadRequest& request) {
  const engine::EngineLoad load = served.loop->Load();
  const engine::SchedulerLoad& s = load.scheduler;
  v1::LoadReport report;
  report.set_instance_id(served.instance_id);
  report.set_role(role);
  *report.mutable_model() = served.info;
  report.set_draining(counters.draining.load());
  report.set_queued_requests(counters.queued_requests.load() + counters.waiting_for_kv.load() +
                             static_cast<uint32_t>(s.waiting_sequences));
  report.set_queued_prompt_tokens(counters.queued_prompt_tokens.load() +
                                  static_cast<uint64_t>(s.queued_prompt_tokens));
  report.set_running_sequences(static_cast<uint32_t>(s.running_sequences));
  report.set_waiting_sequences(static_cast<uint32_t>(s.waiting_sequences + s.preempted_sequences));
  report.set_max_running_sequences(static_cast<uint32_t>(s.max_running_sequences));
  report.set_running_tokens(static_cast<uint64_t>(s.running_tokens));
  report.set_free_kv_blocks(static_cast<uint64_t>(s.kv.available_blocks()));
  report.set_total_kv_blocks(static_cast<uint64_t>(s.kv.total_blocks));
  report.set_active_kv_transfers(counters.active_kv_transfers.load());
  v1::PrefixCacheSummary* cache = report.mutable_prefix_cache();
  cache->set_enabled(s.prefix_caching_enabled);
  cache->set_cached_blocks(static_cast<uint64_t>(s.prefix_cache.cached_blocks));
  cache->set_query_tokens(s.prefix_cache.query_tokens);
  cache->set_hit_tokens(s.prefix_cache.hit_tokens);
  if (request.include_block_hashes()) {
    const size_t cap = request.max_block_hashes() == 0 ? 1024 : request.max_block_hashes();
    for (uint64_t h : served.loop->CachedBlockHashes(cap)) cache->add_block_hashes(h);
  }
  return report;
}

grpc::ServerUnaryReactor* AnswerLoad(rpc::ServiceHost& host, grpc::CallbackServerContext* context,
                                     const ServedEngine& served, v1::Role role,
                                     const ServiceLoadCounters& counters,
                                     const v1::LoadRequest& request, v1::LoadReport* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status admitted = host.Admit(context); !admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  *response = BuildLoadReport(served, role, counters, request);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace r1serve::services
