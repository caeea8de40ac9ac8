#include "gateway/routing_policy.h"

#include <algorithm>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace r1serve::gateway {
namespace {

bool Excluded(const InstanceLoad& instance, const RouteRequest& request) {
  return std::find(request.excluded.begin(), request.excluded.end(), instance.address) !=
         request.excluded.end();
}

// Indices of the routable, not excluded instances, or UNAVAILABLE saying why there are none.
absl::StatusOr<std::vector<size_t>> Candidates(absl::Span<const InstanceLoad> instances,
                                               const RouteRequest& request,
                                               absl::string_view role) {
  std::vector<size_t> out;
  size_t excluded = 0;
  for (size_t i = 0; i < instances.size(); ++i) {
    if (!instances[i].routable) continue;
    if (Excluded(instances[i], request)) {
      ++excluded;
      continue;
    }
    out.push_back(i);
  }
  if (out.empty()) {
    return absl::UnavailableError(
        absl::StrCat("no healthy ", role, " instance can take the request (", instances.size(),
                     " known, ", excluded, " already tried and failed); check the ", role,
                     " instances' health and the gateway's --", role, "_endpoints"));
  }
  return out;
}

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

size_t LoadAwareRouter::MatchedPrefixBlocks(const absl::flat_hash_set<uint64_t>* hashes,
                                            absl::Span<const uint64_t> chain) {
  if (hashes == nullptr) return 0;
  size_t matched = 0;
  while (matched < chain.size() && hashes->contains(chain[matched])) ++matched;
  return matched;
}

absl::StatusOr<size_t> LoadAwareRouter::PickDecode(absl::Span<const InstanceLoad> instances,
                                                   const RouteRequest& request) const {
  absl::StatusOr<std::vector<size_t>> candidates = Candidates(instances, request, "decode");
  if (!candidates.ok()) return candidates.status();

  auto fits = [&](const InstanceLoad& in) {
    if (in.total_kv_blocks == 0 || in.block_size_tokens == 0) return true;  // unknown: assume so
    // The prompt's blocks plus one per sample for its first generated tokens (copy on write of
    // the shared last block).
    const uint64_t needed = CeilDiv(request.prompt_tokens, in.block_size_tokens) +
                            std::max<uint32_t>(request.samples, 1);
    return in.free_kv_blocks >= needed;
  };
  std::vector<size_t> pool;
  for (size_t i : *candidates) {
    if (fits(instances[i])) pool.push_back(i);
  }
  if (pool.empty()) pool = *candidates;

  auto score = [&](const InstanceLoad& in) {
    const double reported =
        double(in.running_sequences) + in.waiting_sequences + in.queued_requests;
    const double busy = std::max(reported, double(in.local_calls));
    const double occupancy = busy / std::max<uint32_t>(in.max_running_sequences, 1);
    const double kv_used =
        in.total_kv_blocks == 0 ? 0.0 : 1.0 - double(in.free_kv_blocks) / in.total_kv_blocks;
    return occupancy + kv_used;
  };
  return *std::min_element(pool.begin(), pool.end(), [&](size_t a, size_t b) {
    const InstanceLoad& x = instances[a];
    const InstanceLoad& y = instances[b];
    return std::make_tuple(score(x), x.local_calls, x.address) <
           std::make_tuple(score(y), y.local_calls, y.address);
  });
}

absl::StatusOr<size_t> LoadAwareRouter::PickPrefill(absl::Span<const InstanceLoad> instances,
                                                    const RouteRequest& request) const {
  absl::StatusOr<std::vector<size_t>> candidates = Candidates(instances, request, "prefill");
  if (!candidates.ok()) return candidates.status();

  auto queue_calls = [](const InstanceLoad& in) {
    return std::max<uint64_t>(in.queued_requests, in.local_calls);
  };
  auto queue_tokens = [](const InstanceLoad& in) {
    return std::max<uint64_t>(in.queued_prompt_tokens, in.local_prompt_tokens);
  };
  auto overloaded = [&](const InstanceLoad& in) {
    return queue_calls(in) >= options_.prefill_overload_queue;
  };

  // Affinity: the longest cached chain among instances that are not overloaded.
  size_t best = instances.size();
  size_t best_match = 0;
  for (size_t i : *candidates) {
    const InstanceLoad& in = instances[i];
    if (overloaded(in)) continue;
    const size_t match = MatchedPrefixBlocks(in.block_hashes.get(), request.prompt_block_hashes);
    if (match == 0) continue;
    if (match > best_match ||
        (match == best_match &&
         std::make_tuple(queue_tokens(in), in.address) <
             std::make_tuple(queue_tokens(instances[best]), instances[best].address))) {
      best = i;
      best_match = match;
    }
  }
  if (best < instances.size()) return best;

  // No affinity: the shortest queue, instances that are not overloaded first.
  return *std::min_element(candidates->begin(), candidates->end(), [&](size_t a, size_t b) {
    const InstanceLoad& x = instances[a];
    const InstanceLoad& y = instances[b];
    return std::make_tuple(overloaded(x), queue_tokens(x), queue_calls(x), x.address) <
           std::make_tuple(overloaded(y), queue_tokens(y), queue_calls(y), y.address);
  });
}

}  // namespace r1serve::gateway
