// Retries of idempotent RPCs: jittered exponential backoff on transient codes, bounded by a
// per-client retry budget so that a struggling server is not hit by a retry storm (the token
// bucket of gRPC's retry throttling: a retry costs one token, a success refunds a fraction, and
// retries stop while fewer than half the tokens are left).
//
// Thread safety: RetryBudget is thread-safe; RetryPolicy is a value.
#ifndef PELICAN_COMMON_RETRY_H_
#define PELICAN_COMMON_RETRY_H_

#include <functional>
#include <mutex>
#include <random>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace pelican {

struct RetryPolicy {
  // Attempts in all, the first included.
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(5);
  double multiplier = 2.0;
  // Each delay is drawn uniformly from [(1 - jitter) d, d].
  double jitter = 0.5;
};

// UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED: the call may succeed if repeated.
bool IsRetryable(const absl::Status& status);

class RetryBudget {
 public:
  explicit RetryBudget(double max_tokens = 10, double refund_per_success = 0.1)
      : max_tokens_(max_tokens), refund_(refund_per_success), tokens_(max_tokens) {}
  // Takes a token for a retry; false (and nothing taken) when the budget is at or below half.
  bool TryRetry();
  void OnSuccess();
  double tokens() const;

 private:
  const double max_tokens_;
  const double refund_;
  mutable std::mutex mu_;
  double tokens_;  // guarded by mu_
};

// Runs `attempt(n)` (n = 0, 1, ...) until it returns OK or a non-retryable status, the policy's
// attempts are used up, or the budget refuses a retry; sleeps the backoff in between with
// `sleep` (absl::SleepFor by default; tests pass a recorder). Returns the last status, annotated
// with the number of attempts when more than one was made.
absl::Status CallWithRetry(const RetryPolicy& policy, RetryBudget* budget, std::mt19937_64* rng,
                           const std::function<absl::Status(int attempt)>& attempt,
                           const std::function<void(absl::Duration)>& sleep = nullptr);

}  // namespace pelican

#endif  // PELICAN_COMMON_RETRY_H_
