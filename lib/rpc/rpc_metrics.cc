#include "lib/rpc/rpc_metrics.h"

#include <google/protobuf/descriptor.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace r1serve::rpc {
namespace {

// Paths already found in the descriptor pool; only known ones are added, so the set is bounded
// by what the binary was compiled with.
class KnownMethodCache {
 public:
  bool Contains(absl::string_view path) {
    absl::MutexLock lock(&mu_);
    return known_.contains(path);
  }
  void Add(absl::string_view path) {
    absl::MutexLock lock(&mu_);
    known_.emplace(path);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> known_ ABSL_GUARDED_BY(mu_);
};

// Calls range from sub-millisecond health checks to generations that stream for minutes.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
      1,     2.5,    5,     10,   30,    60,   120, 300,  600};
  return *buckets;
}

prometheus::Labels MethodLabels(absl::string_view method_path) {
  if (!IsKnownMethod(method_path)) return {{"service", "unknown"}, {"method", "unknown"}};
  auto [service, method] = SplitMethodPath(method_path);
  return {{"service", std::move(service)}, {"method", std::move(method)}};
}

}  // namespace

std::pair<std::string, std::string> SplitMethodPath(absl::string_view path) {
  if (path.size() > 1 && path[0] == '/') {
    const size_t slash = path.find('/', 1);
    if (slash != absl::string_view::npos && slash > 1 && slash + 1 < path.size()) {
      return {std::string(path.substr(1, slash - 1)), std::string(path.substr(slash + 1))};
    }
  }
  return {"", std::string(path)};
}

bool IsKnownMethod(absl::string_view path) {
  static auto* cache = new KnownMethodCache();
  if (cache->Contains(path)) return true;
  auto [service, method] = SplitMethodPath(path);
  if (service.empty()) return false;
  // gRPC's own services: health is served from upb code, so it is never in the pool, and
  // reflection's descriptors are there only when its library happens to be loaded.
  bool known =
      (service == "grpc.health.v1.Health" && (method == "Check" || method == "Watch")) ||
      (service == "grpc.reflection.v1alpha.ServerReflection" && method == "ServerReflectionInfo");
  if (!known) {
    known = google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
                absl::StrCat(service, ".", method)) != nullptr;
  }
  if (known) cache->Add(path);
  return known;
}

absl::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

RpcMetrics::RpcMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("r1serve_rpc_requests_total")
                    .Help("gRPC calls finished, by service, method and status code")
                    .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("r1serve_rpc_latency_seconds")
                   .Help("gRPC call duration from arrival to status sent")
                   .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name("r1serve_rpc_in_flight")
                     .Help("gRPC calls started and not yet finished")
                     .Register(registry)) {}

void RpcMetrics::CallStarted(absl::string_view method_path) {
  in_flight_.Add(MethodLabels(method_path)).Increment();
}

void RpcMetrics::CallFinished(absl::string_view method_path, grpc::StatusCode code,
                              absl::Duration latency) {
  prometheus::Labels labels = MethodLabels(method_path);
  in_flight_.Add(labels).Decrement();
  latency_.Add(labels, LatencyBuckets()).Observe(absl::ToDoubleSeconds(latency));
  labels.emplace("code", std::string(StatusCodeName(code)));
  requests_.Add(labels).Increment();
}

}  // namespace r1serve::rpc
