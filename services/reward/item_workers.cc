#include "services/reward/item_workers.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace r1serve::services {

ItemWorkers::ItemWorkers(int threads, size_t max_pending)
    : max_pending_(max_pending), pool_(threads, max_pending) {}

bool ItemWorkers::TryReserve(size_t n) {
  absl::MutexLock lock(&mu_);
  if (n > max_pending_ - pending_) return false;
  pending_ += n;
  return true;
}

void ItemWorkers::Release() {
  absl::MutexLock lock(&mu_);
  --pending_;
}

void ItemWorkers::Run(std::function<void()> task) {
  const bool queued = pool_.TrySubmit([this, task = std::move(task)] {
    task();
    Release();
  });
  // Queued tasks never outnumber the reservations, which never exceed the queue bound: a
  // refusal means a caller ran without reserving, a bug.
  if (!queued) {
    std::fputs("r1serve-reward: ItemWorkers::Run without a reserved slot\n", stderr);
    std::abort();
  }
}

}  // namespace r1serve::services
