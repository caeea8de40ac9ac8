// KvReservations: decode's admission of KV pulls. A pull starts only when the blocks its prompt
// needs fit in what the engine reports available minus what earlier pulls have reserved, so
// that KV arriving from prefill always has room (the contract's "reserve, then pull"); other
// pulls wait in arrival order. A reservation lasts until the engine has taken the imported KV
// into its own blocks (and its load report shows them used).
//
//   KvReservations reservations;
//   reservations.Acquire(blocks, [=](uint64_t ticket) { StartPull(ticket); });  // now or later
//   reservations.Cancel(ticket);            // the caller went away while waiting
//   reservations.Release(ticket);           // the import is in the engine's blocks
//   reservations.SetAvailable(load.free);   // after every engine step, from its load
//
// Pure logic, no engine: start callbacks run on the thread of the call that made room (Acquire,
// Release or SetAvailable), outside the lock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace r1serve::services {

class KvReservations {
 public:
  using Start = std::function<void(uint64_t ticket)>;

  // Reserves `blocks` and runs `start` now when they fit (or when nothing else is reserved or
  // waiting: a prompt larger than what is free still runs alone, the engine queues it), else
  // queues it. Returns the reservation's ticket.
  uint64_t Acquire(int64_t blocks, Start start);
  // Forgets a waiting reservation (its start never runs) or releases a started one.
  void Cancel(uint64_t ticket) { Release(ticket); }
  void Release(uint64_t ticket);
  // The engine's available blocks (free plus evictable) as of its last step.
  void SetAvailable(int64_t available_blocks);

  int64_t reserved_blocks() const;
  size_t waiting() const;

 private:
  struct Waiter {
    uint64_t ticket;
    int64_t blocks;
    Start start;
  };
  using Started = std::vector<std::pair<uint64_t, Start>>;
  // Moves waiters that fit into `started`; requires mu_.
  void Admit(Started& started);

  mutable std::mutex mu_;
  int64_t available_ = 0;
  int64_t reserved_ = 0;
  uint64_t next_ticket_ = 1;
  absl::flat_hash_map<uint64_t, int64_t> active_;  // started reservations
  std::deque<Waiter> waiting_;
};

}  // namespace r1serve::services
