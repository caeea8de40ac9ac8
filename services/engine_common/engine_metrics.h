// The serving metrics of an engine instance (DESIGN.md's set, on /metrics): requests running and
// waiting, KV cache usage, prefix-cache hits, prompt and generation tokens (refreshed from the
// engine loop's load every refresh period), plus latency histograms and KV transfer counters
// that the services observe per call.
//
//   EngineMetrics metrics(host.metrics_registry(), served.loop.get());
//   metrics.time_to_first_token().Observe(seconds);
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "lib/engine/runtime/engine_loop.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace r1serve::services {

class EngineMetrics {
 public:
  // Starts the refresh thread (every 200 ms); `loop` must outlive this object.
  EngineMetrics(prometheus::Registry& registry, const engine::EngineLoop* loop);
  ~EngineMetrics();
  EngineMetrics(const EngineMetrics&) = delete;
  EngineMetrics& operator=(const EngineMetrics&) = delete;

  prometheus::Histogram& time_to_first_token() { return ttft_; }
  prometheus::Histogram& inter_token_latency() { return itl_; }
  prometheus::Histogram& request_latency() { return e2e_; }
  prometheus::Counter& kv_transfer_bytes() { return kv_bytes_; }
  prometheus::Histogram& kv_transfer_seconds() { return kv_seconds_; }
  prometheus::Counter& kv_transfer_failures() { return kv_failures_; }

  // Copies the loop's load into the gauges and counters now.
  void Refresh();

 private:
  void RefreshLoop();

  const engine::EngineLoop* const loop_;
  prometheus::Gauge& running_;
  prometheus::Gauge& waiting_;
  prometheus::Gauge& blocks_used_;
  prometheus::Gauge& blocks_total_;
  prometheus::Gauge& usage_;
  prometheus::Counter& prefix_query_tokens_;
  prometheus::Counter& prefix_hit_tokens_;
  prometheus::Counter& computed_tokens_;
  prometheus::Counter& generation_tokens_;
  prometheus::Counter& preemptions_;
  prometheus::Histogram& ttft_;
  prometheus::Histogram& itl_;
  prometheus::Histogram& e2e_;
  prometheus::Counter& kv_bytes_;
  prometheus::Histogram& kv_seconds_;
  prometheus::Counter& kv_failures_;

  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  engine::EngineLoad last_;  // counters are advanced by the difference (refresh thread only)
  std::thread thread_;
};

}  // namespace r1serve::services
