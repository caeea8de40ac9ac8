#include "services/decode/kv_reservations.h"

#include <utility>

namespace r1serve::services {

uint64_t KvReservations::Acquire(int64_t blocks, Start start) {
  Started started;
  uint64_t ticket;
  {
    std::lock_guard lock(mu_);
    ticket = next_ticket_++;
    waiting_.push_back({ticket, blocks, std::move(start)});
    Admit(started);
  }
  for (auto& [started_ticket, start] : started) start(started_ticket);
  return ticket;
}

void KvReservations::Release(uint64_t ticket) {
  Started started;
  {
    std::lock_guard lock(mu_);
    if (auto it = active_.find(ticket); it != active_.end()) {
      reserved_ -= it->second;
      active_.erase(it);
    } else {
      for (auto w = waiting_.begin(); w != waiting_.end(); ++w) {
        if (w->ticket == ticket) {
          waiting_.erase(w);
          break;
        }
      }
    }
    Admit(started);
  }
  for (auto& [started_ticket, start] : started) start(started_ticket);
}

void KvReservations::SetAvailable(int64_t available_blocks) {
  Started started;
  {
    std::lock_guard lock(mu_);
    available_ = available_blocks;
    Admit(started);
  }
  for (auto& [started_ticket, start] : started) start(started_ticket);
}

void KvReservations::Admit(Started& started) {
  // In arrival order, no skipping ahead: a large prompt is not starved by small ones.
  while (!waiting_.empty()) {
    Waiter& w = waiting_.front();
    const bool alone = active_.empty();
    if (!alone && reserved_ + w.blocks > available_) return;
    reserved_ += w.blocks;
    active_[w.ticket] = w.blocks;
    started.emplace_back(w.ticket, std::move(w.start));
    waiting_.pop_front();
  }
}

int64_t KvReservations::reserved_blocks() const {
  std::lock_guard lock(mu_);
  return reserved_;
}

size_t KvReservations::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

}  // namespace r1serve::services
