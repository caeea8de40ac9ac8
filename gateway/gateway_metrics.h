// The gateway's Prometheus metrics (DESIGN.md's serving set, as the front door sees it):
//
//   r1serve_gateway_time_to_first_token_seconds     histogram: call receipt -> first token sent
//   r1serve_gateway_inter_token_latency_seconds     histogram: gap between a sample's tokens
//   r1serve_gateway_e2e_request_latency_seconds     histogram{method}: receipt -> status
//   r1serve_gateway_requests_running                gauge: Generate/Chat calls in progress
//   r1serve_gateway_requests_rejected_total         counter{reason}: overload, no instance
//   r1serve_gateway_prompt_tokens_total             counter
//   r1serve_gateway_generation_tokens_total         counter
//   r1serve_gateway_reasoning_tokens_total          counter
//   r1serve_gateway_retries_total                   counter{reason}: prefill, decode
//   r1serve_gateway_routing_decisions_total         counter{role,instance}
//   r1serve_gateway_instance_healthy                gauge{role,instance}: 1 routable, 0 not
//
// Per-call counts and latency by status code are r1serve_rpc_* (ServiceHost).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "absl/strings/string_view.h"

namespace r1serve::gateway {

class GatewayMetrics {
 public:
  explicit GatewayMetrics(prometheus::Registry& registry);

  void ObserveTimeToFirstToken(double seconds) { ttft_.Observe(seconds); }
  void ObserveInterTokenLatency(double seconds) { itl_.Observe(seconds); }
  void ObserveRequestLatency(absl::string_view method, double seconds);
  prometheus::Gauge& requests_running() { return running_; }
  void Rejected(absl::string_view reason);
  void CountTokens(uint64_t prompt, uint64_t generated, uint64_t reasoning);
  void Retry(absl::string_view reason);
  void Routed(absl::string_view role, const std::string& instance);
  void SetInstanceHealthy(absl::string_view role, const std::string& instance, bool healthy);
  void RemoveInstance(absl::string_view role, const std::string& instance);

 private:
  prometheus::Family<prometheus::Histogram>& latency_family_;
  prometheus::Histogram& ttft_;
  prometheus::Histogram& itl_;
  prometheus::Family<prometheus::Histogram>& e2e_;
  prometheus::Gauge& running_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Counter& prompt_tokens_;
  prometheus::Counter& generation_tokens_;
  prometheus::Counter& reasoning_tokens_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& routed_;
  prometheus::Family<prometheus::Gauge>& healthy_;
};

}  // namespace r1serve::gateway
