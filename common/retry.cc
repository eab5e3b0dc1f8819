#include "common/retry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace pelican {

bool IsRetryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status);
}

bool RetryBudget::TryRetry() {
  std::lock_guard<std::mutex> lock(mu_);
  if (tokens_ <= max_tokens_ / 2) return false;
  tokens_ -= 1;
  return true;
}

void RetryBudget::OnSuccess() {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_ = std::min(max_tokens_, tokens_ + refund_);
}

double RetryBudget::tokens() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_;
}

absl::Status CallWithRetry(const RetryPolicy& policy, RetryBudget* budget, std::mt19937_64* rng,
                           const std::function<absl::Status(int attempt)>& attempt,
                           const std::function<void(absl::Duration)>& sleep) {
  absl::Duration backoff = policy.initial_backoff;
  absl::Status status;
  int n = 0;
  for (;; ++n) {
    status = attempt(n);
    if (status.ok()) {
      if (budget != nullptr) budget->OnSuccess();
      return status;
    }
    if (!IsRetryable(status) || n + 1 >= policy.max_attempts) break;
    if (budget != nullptr && !budget->TryRetry()) {
      status =
          absl::Status(status.code(), absl::StrCat(status.message(), " (retry budget exhausted)"));
      break;
    }
    std::uniform_real_distribution<double> u(1.0 - policy.jitter, 1.0);
    const absl::Duration delay = backoff * u(*rng);
    if (sleep) {
      sleep(delay);
    } else {
      absl::SleepFor(delay);
    }
    backoff = std::min(policy.max_backoff, backoff * policy.multiplier);
  }
  if (n == 0) return status;
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), " (after ", n + 1, " attempts)"));
}

}  // namespace pelican
