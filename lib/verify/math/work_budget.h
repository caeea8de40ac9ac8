// WorkBudget: the cooperative deadline every stage of math verification checks in its loops.
// No signals and no threads: long loops call Tick(), which reads the clock every few hundred
// units of work and reports DEADLINE_EXCEEDED once the deadline has passed, so a pathological
// answer ends its own verification (reported as a timeout) instead of holding up a batch.
//
//   WorkBudget budget(deadline);
//   for (...) {
//     RETURN_IF_ERROR(budget.Tick());
//     ...
//   }
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace r1serve::verify {

class WorkBudget {
 public:
  explicit WorkBudget(absl::Time deadline) : deadline_(deadline) {}

  // Counts `units` of work; reads the clock once every kUnitsPerClockRead units.
  absl::Status Tick(int64_t units = 1) {
    units_since_read_ += units;
    if (units_since_read_ < kUnitsPerClockRead) return absl::OkStatus();
    units_since_read_ = 0;
    return Check();
  }

  // Reads the clock now.
  absl::Status Check() {
    if (!expired_ && absl::Now() > deadline_) expired_ = true;
    if (expired_) return absl::DeadlineExceededError("math verification ran past its deadline");
    return absl::OkStatus();
  }

 private:
  static constexpr int64_t kUnitsPerClockRead = 256;
  absl::Time deadline_;
  int64_t units_since_read_ = 0;
  bool expired_ = false;
};

}  // namespace r1serve::verify
