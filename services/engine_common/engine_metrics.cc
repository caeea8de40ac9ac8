#include "services/engine_common/engine_metrics.h"

#include <chrono>

namespace r1serve::services {
namespace {

prometheus::Gauge& AddGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Counter& AddCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Histogram& AddHistogram(prometheus::Registry& registry, const std::string& name,
                                    const std::string& help,
                                    const prometheus::Histogram::BucketBoundaries& buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, buckets);
}

// Seconds, from a CPU decode step (milliseconds) to a long prompt behind a queue (minutes).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

void Advance(prometheus::Counter& counter, uint64_t now, uint64_t before) {
  if (now > before) counter.Increment(static_cast<double>(now - before));
}

}  // namespace

EngineMetrics::EngineMetrics(prometheus::Registry& registry, const engine::EngineLoop* loop)
    : loop_(loop),
      running_(AddGauge(registry, "r1serve_requests_running", "Sequences in the running batch")),
      waiting_(AddGauge(registry, "r1serve_requests_waiting",
                        "Sequences waiting for the batch (new or preempted)")),
      blocks_used_(AddGauge(registry, "r1serve_kv_blocks_used",
                            "KV blocks held by sequences (not free, not evictable)")),
      blocks_total_(AddGauge(registry, "r1serve_kv_blocks_total", "KV blocks in the cache")),
      usage_(AddGauge(registry, "r1serve_kv_cache_usage_ratio",
                      "Share of KV blocks held by sequences")),
      prefix_query_tokens_(AddCounter(registry, "r1serve_prefix_cache_query_tokens_total",
                                      "Prompt tokens looked up in the prefix cache")),
      prefix_hit_tokens_(AddCounter(registry, "r1serve_prefix_cache_hit_tokens_total",
                                    "Prompt tokens found in the prefix cache")),
      computed_tokens_(AddCounter(registry, "r1serve_computed_tokens_total",
                                  "Rows of forward passes (prompts, decodes, recomputation)")),
      generation_tokens_(AddCounter(registry, "r1serve_generation_tokens_total",
                                    "Tokens sampled")),
      preemptions_(AddCounter(registry, "r1serve_preemptions_total",
                              "Sequences preempted for lack of KV blocks")),
      ttft_(AddHistogram(registry, "r1serve_time_to_first_token_seconds",
                         "From receipt of a call to its first token", kLatencyBuckets)),
      itl_(AddHistogram(registry, "r1serve_inter_token_latency_seconds",
                        "Between consecutive tokens of a sample", kLatencyBuckets)),
      e2e_(AddHistogram(registry, "r1serve_e2e_request_latency_seconds",
                        "From receipt of a call to its end", kLatencyBuckets)),
      kv_bytes_(AddCounter(registry, "r1serve_kv_transfer_bytes_total",
                           "KV bytes sent (prefill) or received (decode)")),
      kv_seconds_(AddHistogram(registry, "r1serve_kv_transfer_seconds",
                               "From a KV stream's header to its trailer", kLatencyBuckets)),
      kv_failures_(AddCounter(registry, "r1serve_kv_transfer_failures_total",
                              "KV streams that ended in an error")),
      thread_([this] { RefreshLoop(); }) {}

EngineMetrics::~EngineMetrics() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void EngineMetrics::Refresh() {
  const engine::EngineLoad load = loop_->Load();
  const engine::SchedulerLoad& s = load.scheduler;
  running_.Set(s.running_sequences);
  waiting_.Set(s.waiting_sequences + s.preempted_sequences);
  blocks_used_.Set(static_cast<double>(s.kv.used_blocks));
  blocks_total_.Set(static_cast<double>(s.kv.total_blocks));
  usage_.Set(s.kv.total_blocks == 0 ? 0.0
                                    : static_cast<double>(s.kv.used_blocks) / s.kv.total_blocks);
  std::lock_guard lock(mu_);
  Advance(prefix_query_tokens_, s.prefix_cache.query_tokens, last_.scheduler.prefix_cache.query_tokens);
  Advance(prefix_hit_tokens_, s.prefix_cache.hit_tokens, last_.scheduler.prefix_cache.hit_tokens);
  Advance(computed_tokens_, load.computed_tokens, last_.computed_tokens);
  Advance(generation_tokens_, load.generated_tokens, last_.generated_tokens);
  Advance(preemptions_, s.preemptions, last_.scheduler.preemptions);
  last_ = load;
}

void EngineMetrics::RefreshLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Refresh();
    lock.lock();
    stop_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
  }
}

}  // namespace r1serve::services
