// Prometheus metrics for every gRPC call a ServiceHost serves, fed by its call interceptor:
//
//   r1serve_rpc_requests_total{service,method,code}   calls finished, by status code name
//   r1serve_rpc_latency_seconds{service,method}       from call arrival to status sent
//   r1serve_rpc_in_flight{service,method}             calls started and not yet finished
//
// `service` and `method` come from the gRPC path "/r1serve.v1.Decode/Generate" ->
// service="r1serve.v1.Decode", method="Generate"; `code` is the name ("OK", "UNAVAILABLE").
// The path comes from the client, so a method this binary does not know (no compiled-in proto
// declares it) is labelled service="unknown", method="unknown": otherwise anyone could create
// unbounded time series, and Prometheus memory with them, by calling made-up methods.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   RpcMetrics metrics(*registry);
//   metrics.CallStarted("/r1serve.v1.Decode/Generate");
//   metrics.CallFinished("/r1serve.v1.Decode/Generate", grpc::StatusCode::OK, absl::Seconds(2));
#pragma once

#include <grpcpp/support/status.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace r1serve::rpc {

// "/pkg.Service/Method" -> {"pkg.Service", "Method"}; anything else -> {"", path}.
std::pair<std::string, std::string> SplitMethodPath(absl::string_view path);

// Whether a compiled-in .proto declares the method at `path`; gRPC's health and reflection
// methods always count.
bool IsKnownMethod(absl::string_view path);

// "OK", "CANCELLED", ... "UNAUTHENTICATED": the names grpcurl and the gRPC docs print.
absl::string_view StatusCodeName(grpc::StatusCode code);

class RpcMetrics {
 public:
  // Adds the metric families to `registry`, which must outlive this object.
  explicit RpcMetrics(prometheus::Registry& registry);

  void CallStarted(absl::string_view method_path);
  void CallFinished(absl::string_view method_path, grpc::StatusCode code, absl::Duration latency);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
};

}  // namespace r1serve::rpc
