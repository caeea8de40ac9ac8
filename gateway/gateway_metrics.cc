#include "gateway/gateway_metrics.h"

namespace r1serve::gateway {
namespace {

// Latency buckets from 1 ms to 5 min: CPU prefill of a long prompt takes tens of seconds.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
      0.5,   0.75,   1,     2.5,  5,     10,   20,    40,  80,   160, 300};
  return *buckets;
}

prometheus::Family<prometheus::Counter>& Counter(prometheus::Registry& r, const char* name,
                                                 const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

}  // namespace

GatewayMetrics::GatewayMetrics(prometheus::Registry& registry)
    : latency_family_(prometheus::BuildHistogram()
                          .Name("r1serve_gateway_time_to_first_token_seconds")
                          .Help("From receipt of a Generate/Chat call to sending its first token")
                          .Register(registry)),
      ttft_(latency_family_.Add({}, LatencyBuckets())),
      itl_(prometheus::BuildHistogram()
               .Name("r1serve_gateway_inter_token_latency_seconds")
               .Help("Time between consecutive tokens of one sample, as sent to the client")
               .Register(registry)
               .Add({}, LatencyBuckets())),
      e2e_(prometheus::BuildHistogram()
               .Name("r1serve_gateway_e2e_request_latency_seconds")
               .Help("From receipt of a call to its status")
               .Register(registry)),
      running_(prometheus::BuildGauge()
                   .Name("r1serve_gateway_requests_running")
                   .Help("Generate and Chat calls in progress")
                   .Register(registry)
                   .Add({})),
      rejected_(Counter(registry, "r1serve_gateway_requests_rejected_total",
                        "Calls refused before any work (overload)")),
      prompt_tokens_(Counter(registry, "r1serve_gateway_prompt_tokens_total",
                             "Prompt tokens of finished calls")
                         .Add({})),
      generation_tokens_(Counter(registry, "r1serve_gateway_generation_tokens_total",
                                 "Generated tokens sent to clients")
                             .Add({})),
      reasoning_tokens_(Counter(registry, "r1serve_gateway_reasoning_tokens_total",
                                "Generated tokens inside reasoning blocks")
                            .Add({})),
      retries_(Counter(registry, "r1serve_gateway_retries_total",
                       "Decode Generate calls retried before the first token, by what failed")),
      routed_(Counter(registry, "r1serve_gateway_routing_decisions_total",
                      "Requests routed to each instance")),
      healthy_(prometheus::BuildGauge()
                   .Name("r1serve_gateway_instance_healthy")
                   .Help("1 while the instance answers its probes and takes calls, else 0")
                   .Register(registry)) {}

void GatewayMetrics::ObserveRequestLatency(absl::string_view method, double seconds) {
  e2e_.Add({{"method", std::string(method)}}, LatencyBuckets()).Observe(seconds);
}

void GatewayMetrics::Rejected(absl::string_view reason) {
  rejected_.Add({{"reason", std::string(reason)}}).Increment();
}

void GatewayMetrics::CountTokens(uint64_t prompt, uint64_t generated, uint64_t reasoning) {
  prompt_tokens_.Increment(prompt);
  generation_tokens_.Increment(generated);
  reasoning_tokens_.Increment(reasoning);
}

void GatewayMetrics::Retry(absl::string_view reason) {
  retries_.Add({{"reason", std::string(reason)}}).Increment();
}

void GatewayMetrics::Routed(absl::string_view role, const std::string& instance) {
  routed_.Add({{"role", std::string(role)}, {"instance", instance}}).Increment();
}

void GatewayMetrics::SetInstanceHealthy(absl::string_view role, const std::string& instance,
                                        bool healthy) {
  healthy_.Add({{"role", std::string(role)}, {"instance", instance}}).Set(healthy ? 1 : 0);
}

void GatewayMetrics::RemoveInstance(absl::string_view role, const std::string& instance) {
  healthy_.Remove(&healthy_.Add({{"role", std::string(role)}, {"instance", instance}}));
}

}  // namespace r1serve::gateway
