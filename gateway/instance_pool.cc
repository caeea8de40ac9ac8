#include "gateway/instance_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/rpc_metrics.h"
#include "r1serve/v1/decode.grpc.pb.h"
#include "r1serve/v1/prefill.grpc.pb.h"

namespace r1serve::gateway {

absl::string_view PoolRoleName(PoolRole role) {
  return role == PoolRole::kPrefill ? "prefill" : "decode";
}

InstancePool::InstancePool(PoolRole role, std::vector<EndpointSpec> specs, Resolver resolver,
                           PoolOptions options, GatewayMetrics* metrics)
    : role_(role),
      options_(std::move(options)),
      metrics_(metrics),
      discovery_(std::move(specs), std::move(resolver)) {}

InstancePool::~InstancePool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

InstancePool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      address_(std::move(other.address_)),
      channel_(std::move(other.channel_)),
      prompt_tokens_(other.prompt_tokens_) {}

InstancePool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Release(address_, prompt_tokens_);
}

void InstancePool::Start() {
  AddAndRemove(discovery_.Refresh());
  ProbeAll();
  thread_ = std::thread([this] { Run(); });
}

void InstancePool::Run() {
  absl::Time next_resolve = absl::Now() + options_.resolve_interval;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      const absl::Time wake = absl::Now() + options_.probe_interval;
      if (mu_.AwaitWithDeadline(absl::Condition(&stopping_), wake)) return;
    }
    if (absl::Now() >= next_resolve) {
      AddAndRemove(discovery_.Refresh());
      next_resolve = absl::Now() + options_.resolve_interval;
    }
    ProbeAll();
  }
}

void InstancePool::AddAndRemove(const InstanceDiscovery::Diff& diff) {
  absl::MutexLock lock(&mu_);
  for (const std::string& address : diff.added) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        rpc::CreateChannel(address, options_.channel);
    if (!channel.ok()) {
      R1_LOG(kError, "gateway") << PoolRoleName(role_) << " instance " << address << ": "
                                << channel.status().message();
      continue;
    }
    Instance instance{.address = address,
                      .channel = *channel,
                      .health = InstanceHealth(options_.health),
                      .load = InstanceLoad{.address = address}};
    instances_.emplace(address, std::move(instance));
    if (metrics_ != nullptr) metrics_->SetInstanceHealthy(PoolRoleName(role_), address, false);
    R1_LOG(kInfo, "gateway") << PoolRoleName(role_) << " instance " << address << " added";
  }
  for (const std::string& address : diff.removed) {
    instances_.erase(address);
    if (metrics_ != nullptr) metrics_->RemoveInstance(PoolRoleName(role_), address);
    R1_LOG(kInfo, "gateway") << PoolRoleName(role_) << " instance " << address
                             << " removed (no longer resolved)";
  }
}

namespace {

// One Load probe in flight; owns what the async call needs until its callback.
struct Probe {
  std::string address;
  grpc::ClientContext context;
  v1::LoadRequest request;
  v1::LoadReport report;
};

}  // namespace

void InstancePool::ProbeAll() {
  std::vector<std::pair<std::string, std::shared_ptr<grpc::Channel>>> targets;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [address, instance] : instances_) {
      targets.emplace_back(address, instance.channel);
    }
  }
  // All probes at once, so one instance that hangs until the timeout delays no other.
  absl::BlockingCounter pending(static_cast<int>(targets.size()));
  std::vector<std::unique_ptr<Probe>> probes;
  for (const auto& [address, channel] : targets) {
    auto probe = std::make_unique<Probe>();
    probe->address = address;
    probe->context.set_deadline(absl::ToChronoTime(absl::Now() + options_.probe_timeout));
    probe->request.set_include_block_hashes(role_ == PoolRole::kPrefill);
    probe->request.set_max_block_hashes(options_.max_block_hashes);
    Probe* p = probe.get();
    auto done = [this, p, &pending](grpc::Status status) {
      ApplyProbe(p->address, status, p->report);
      pending.DecrementCount();
    };
    if (role_ == PoolRole::kPrefill) {
      v1::PrefillService::NewStub(channel)->async()->Load(&p->context, &p->request, &p->report,
                                                          std::move(done));
    } else {
      v1::DecodeService::NewStub(channel)->async()->Load(&p->context, &p->request, &p->report,
                                                         std::move(done));
    }
    probes.push_back(std::move(probe));
  }
  pending.Wait();
}

void InstancePool::ApplyProbe(const std::string& address, const grpc::Status& status,
                              const v1::LoadReport& report) {
  absl::MutexLock lock(&mu_);
  auto it = instances_.find(address);
  if (it == instances_.end()) return;  // removed meanwhile
  Instance& instance = it->second;
  if (!status.ok()) {
    const bool changed = instance.health.OnProbeFailure(
        absl::StrCat(rpc::StatusCodeName(status.error_code()), ": ", status.error_message()));
    SetHealth(instance, changed);
    return;
  }
  InstanceLoad& load = instance.load;
  load.running_sequences = report.running_sequences();
  load.waiting_sequences = report.waiting_sequences();
  load.queued_requests = report.queued_requests();
  load.max_running_sequences = report.max_running_sequences();
  load.queued_prompt_tokens = report.queued_prompt_tokens();
  load.free_kv_blocks = report.free_kv_blocks();
  load.total_kv_blocks = report.total_kv_blocks();
  load.block_size_tokens = report.model().kv_cache().block_size_tokens();
  if (load.block_size_tokens > 0) block_size_tokens_ = load.block_size_tokens;
  const auto& hashes = report.prefix_cache().block_hashes();
  load.block_hashes = hashes.empty() ? nullptr
                                     : std::make_shared<const absl::flat_hash_set<uint64_t>>(
                                           hashes.begin(), hashes.end());
  SetHealth(instance, instance.health.OnProbeSuccess(report.draining()));
}

void InstancePool::SetHealth(Instance& instance, bool changed) {
  instance.load.routable = instance.health.routable();
  if (!changed) return;
  if (metrics_ != nullptr) {
    metrics_->SetInstanceHealthy(PoolRoleName(role_), instance.address, instance.load.routable);
  }
  if (instance.load.routable) {
    R1_LOG(kInfo, "gateway") << PoolRoleName(role_) << " instance " << instance.address
                             << " is taking calls";
  } else {
    R1_LOG(kWarning, "gateway") << PoolRoleName(role_) << " instance " << instance.address
                                << " taken out: "
                                << (instance.health.draining() ? "draining"
                                                               : instance.health.last_error());
  }
}

void InstancePool::ReportUnreachable(const std::string& address, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  auto it = instances_.find(address);
  if (it == instances_.end()) return;
  SetHealth(it->second, it->second.health.OnCallUnreachable(reason));
}

absl::StatusOr<InstancePool::Lease> InstancePool::Pick(const Router& router,
                                                       const RouteRequest& request) {
  absl::MutexLock lock(&mu_);
  std::vector<InstanceLoad> loads;
  std::vector<Instance*> order;
  for (auto& [address, instance] : instances_) {
    loads.push_back(instance.load);
    order.push_back(&instance);
  }
  absl::StatusOr<size_t> picked = role_ == PoolRole::kPrefill ? router.PickPrefill(loads, request)
                                                              : router.PickDecode(loads, request);
  if (!picked.ok()) return picked.status();
  Instance& instance = *order[*picked];
  ++instance.load.local_calls;
  instance.load.local_prompt_tokens += request.prompt_tokens;
  if (metrics_ != nullptr) metrics_->Routed(PoolRoleName(role_), instance.address);
  return Lease(this, instance.address, instance.channel, request.prompt_tokens);
}

void InstancePool::Release(const std::string& address, uint64_t prompt_tokens) {
  absl::MutexLock lock(&mu_);
  auto it = instances_.find(address);
  if (it == instances_.end()) return;
  InstanceLoad& load = it->second.load;
  if (load.local_calls > 0) --load.local_calls;
  load.local_prompt_tokens -= std::min(load.local_prompt_tokens, prompt_tokens);
}

uint32_t InstancePool::block_size_tokens() const {
  absl::MutexLock lock(&mu_);
  return block_size_tokens_;
}

std::vector<InstanceLoad> InstancePool::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<InstanceLoad> out;
  for (const auto& [address, instance] : instances_) out.push_back(instance.load);
  return out;
}

size_t InstancePool::size() const {
  absl::MutexLock lock(&mu_);
  return instances_.size();
}

}  // namespace r1serve::gateway
