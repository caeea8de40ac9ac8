// Which decode and which prefill instance serve a request, decided from the instances' load
// reports and the calls this gateway already has open on them. Pure logic: no sockets, no
// protobuf, no clock, so every decision is unit-tested (routing_policy_test.cc).
//
//   LoadAwareRouter router(RoutingOptions{});
//   std::vector<InstanceLoad> decode = pool.Snapshot(Role::kDecode);
//   absl::StatusOr<size_t> pick = router.PickDecode(decode, RouteRequest{.prompt_tokens = 812});
//
// Router is the seam: a different policy (e.g. session stickiness) is another subclass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace r1serve::gateway {

// What routing knows about one instance.
struct InstanceLoad {
  std::string address = "";
  // Healthy (its last probes answered), not draining, and reported at least once.
  bool routable = false;

  // From its last LoadReport.
  uint32_t running_sequences = 0;
  uint32_t waiting_sequences = 0;
  uint32_t queued_requests = 0;
  uint32_t max_running_sequences = 0;
  uint64_t queued_prompt_tokens = 0;
  uint64_t free_kv_blocks = 0;
  uint64_t total_kv_blocks = 0;    // 0: unknown
  uint32_t block_size_tokens = 0;  // 0: unknown
  // PrefixCacheSummary.block_hashes; null when none were reported.
  std::shared_ptr<const absl::flat_hash_set<uint64_t>> block_hashes = nullptr;

  // Calls this gateway has open on the instance now. Reports lag (they come every poll
  // interval), so a burst of requests would otherwise all land on the instance that looked
  // idlest at the last poll.
  uint32_t local_calls = 0;
  uint64_t local_prompt_tokens = 0;  // prompt tokens of those calls
};

// What routing knows about one request.
struct RouteRequest {
  uint32_t prompt_tokens = 0;
  uint32_t samples = 1;  // sampling.n
  // BlockHashChain(prompt, block size) of the prompt's full leading blocks (common.proto
  // PrefixCacheSummary.block_hashes), for prefix affinity; may be empty.
  std::vector<uint64_t> prompt_block_hashes = {};
  // Addresses not to pick (the instance a failed attempt used).
  std::vector<std::string> excluded = {};
};

struct RoutingOptions {
  // A prefill instance with this many calls queued (its report or this gateway's own open
  // calls, whichever is larger) is overloaded: prefix affinity no longer pulls requests to it.
  uint32_t prefill_overload_queue = 4;
};

class Router {
 public:
  virtual ~Router() = default;
  // Index into `instances` of the decode instance to use; UNAVAILABLE when none is routable.
  virtual absl::StatusOr<size_t> PickDecode(absl::Span<const InstanceLoad> instances,
                                            const RouteRequest& request) const = 0;
  // Index into `instances` of the prefill instance to use; UNAVAILABLE when none is routable.
  virtual absl::StatusOr<size_t> PickPrefill(absl::Span<const InstanceLoad> instances,
                                             const RouteRequest& request) const = 0;
};

// Decode: among routable instances, those with enough free KV blocks for the prompt come first
// (when none has, all of them: decode queues the call until blocks free up); then the lowest
// score = batch occupancy ((running + waiting + queued) / max_running, or this gateway's own
// open calls when larger) + KV usage (1 - free / total); ties go to fewer local calls, then to
// the lower address, so the choice is deterministic.
//
// Prefill: the instance holding the longest leading chain of the prompt's block hashes wins
// while it is not overloaded (ties: the shorter queue in prompt tokens); with no affinity, the
// shortest queue (prompt tokens, then calls, then address), preferring instances that are not
// overloaded.
class LoadAwareRouter final : public Router {
 public:
  explicit LoadAwareRouter(RoutingOptions options) : options_(options) {}
  absl::StatusOr<size_t> PickDecode(absl::Span<const InstanceLoad> instances,
                                    const RouteRequest& request) const override;
  absl::StatusOr<size_t> PickPrefill(absl::Span<const InstanceLoad> instances,
                                     const RouteRequest& request) const override;

  // Leading blocks of `chain` that `hashes` holds (0 when `hashes` is null).
  static size_t MatchedPrefixBlocks(const absl::flat_hash_set<uint64_t>* hashes,
                                    absl::Span<const uint64_t> chain);

 private:
  RoutingOptions options_;
};

}  // namespace r1serve::gateway
