// Time as a seam: code that needs "now" (lease deadlines, timeouts) takes a Clock*, so production
// passes Clock::Real() and tests pass a ManualClock they move by hand, with no sleeping.
#ifndef PELICAN_COMMON_CLOCK_H_
#define PELICAN_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pelican {

// A source of wall-clock time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process-wide real clock (absl::Now()). Never null, never deleted.
  static Clock* Real();
};

// A clock that only moves when told to; for tests. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  // REQUIRES: d >= 0 (time never goes back).
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    if (d > absl::ZeroDuration()) now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

namespace internal_clock {
class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};
}  // namespace internal_clock

inline Clock* Clock::Real() {
  static internal_clock::RealClock* const clock = new internal_clock::RealClock();
  return clock;
}

}  // namespace pelican

#endif  // PELICAN_COMMON_CLOCK_H_
