// The engine instances of one role (prefill or decode) that the gateway routes to: discovery
// (InstanceDiscovery, re-resolved every resolve_interval), a gRPC channel per instance, health
// (InstanceHealth, fed by a Load probe of every instance each probe_interval; the report is
// what routing reads), and this gateway's own open calls per instance.
//
//   InstancePool decode(PoolRole::kDecode, specs, SystemResolver(), options, &metrics);
//   decode.Start();                                   // first resolve + probe round, then a thread
//   ASSIGN_OR_RETURN(InstancePool::Lease lease, decode.Pick(router, route_request));
//   auto stub = v1::DecodeService::NewStub(lease.channel());
//   ...                                               // the call; lease released when it ends
#pragma once

#include <grpcpp/channel.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/gateway_metrics.h"
#include "gateway/instance_discovery.h"
#include "gateway/instance_health.h"
#include "gateway/routing_policy.h"
#include "lib/rpc/client_channel.h"
#include "r1serve/v1/common.pb.h"

namespace r1serve::gateway {

enum class PoolRole { kPrefill, kDecode };
absl::string_view PoolRoleName(PoolRole role);  // "prefill", "decode"

struct PoolOptions {
  absl::Duration probe_interval = absl::Seconds(1);
  absl::Duration probe_timeout = absl::Seconds(1);
  absl::Duration resolve_interval = absl::Seconds(10);
  HealthOptions health;
  rpc::ChannelOptions channel;
  // LoadRequest.max_block_hashes for prefill probes (prefix affinity).
  uint32_t max_block_hashes = 1024;
};

class InstancePool {
 public:
  InstancePool(PoolRole role, std::vector<EndpointSpec> specs, Resolver resolver,
               PoolOptions options, GatewayMetrics* metrics);
  // Stops the probe thread. Leases must be gone.
  ~InstancePool();
  InstancePool(const InstancePool&) = delete;
  InstancePool& operator=(const InstancePool&) = delete;

  // A call open on one instance: counts in that instance's local_calls until destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    const std::string& address() const { return address_; }
    const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

   private:
    friend class InstancePool;
    Lease(InstancePool* pool, std::string address, std::shared_ptr<grpc::Channel> channel,
          uint64_t prompt_tokens)
        : pool_(pool),
          address_(std::move(address)),
          channel_(std::move(channel)),
          prompt_tokens_(prompt_tokens) {}
    InstancePool* pool_;
    std::string address_;
    std::shared_ptr<grpc::Channel> channel_;
    uint64_t prompt_tokens_;
  };

  // Resolves, probes every instance once, then keeps doing both on a thread.
  void Start();

  // Routes with `router` over the current instances and opens a lease on the one picked.
  absl::StatusOr<Lease> Pick(const Router& router, const RouteRequest& request);

  // A call found the instance unreachable: it takes no calls until a probe says it is back.
  void ReportUnreachable(const std::string& address, const std::string& reason);

  // Tokens per KV block as the instances report it; 0 until one has.
  uint32_t block_size_tokens() const;

  std::vector<InstanceLoad> Snapshot() const;
  size_t size() const;
  PoolRole role() const { return role_; }

 private:
  struct Instance {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    InstanceHealth health;
    InstanceLoad load;  // routable and local_* kept current
  };

  void AddAndRemove(const InstanceDiscovery::Diff& diff);
  void ProbeAll();
  void ApplyProbe(const std::string& address, const grpc::Status& status,
                  const v1::LoadReport& report);
  void SetHealth(Instance& instance, bool changed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(const std::string& address, uint64_t prompt_tokens);
  void Run();

  const PoolRole role_;
  const PoolOptions options_;
  GatewayMetrics* const metrics_;
  InstanceDiscovery discovery_;  // used by Start() and the probe thread only

  mutable absl::Mutex mu_;
  std::map<std::string, Instance> instances_ ABSL_GUARDED_BY(mu_);
  uint32_t block_size_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace r1serve::gateway
