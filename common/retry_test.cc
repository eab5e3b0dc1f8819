#include "common/retry.h"

#include <gtest/gtest.h>

#include <vector>

namespace pelican {
namespace {

struct Sleeps {
  std::vector<absl::Duration> d;
  std::function<void(absl::Duration)> Fn() {
    return [this](absl::Duration x) { d.push_back(x); };
  }
};

TEST(RetryTest, RetriesTransientErrorsWithGrowingJitteredBackoff) {
  RetryPolicy p;
  p.max_attempts = 4;
  p.initial_backoff = absl::Milliseconds(100);
  p.multiplier = 2;
  p.jitter = 0.5;
  std::mt19937_64 rng(1);
  Sleeps s;
  int calls = 0;
  const absl::Status st = CallWithRetry(
      p, nullptr, &rng,
      [&](int n) {
        EXPECT_EQ(n, calls);
        ++calls;
        return calls < 3 ? absl::UnavailableError("down") : absl::OkStatus();
      },
      s.Fn());
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(s.d.size(), 2u);
  EXPECT_GE(s.d[0], absl::Milliseconds(50));
  EXPECT_LE(s.d[0], absl::Milliseconds(100));
  EXPECT_GE(s.d[1], absl::Milliseconds(100));
  EXPECT_LE(s.d[1], absl::Milliseconds(200));
}

TEST(RetryTest, StopsOnPermanentErrorsAndAfterMaxAttempts) {
  RetryPolicy p;
  p.max_attempts = 3;
  std::mt19937_64 rng(1);
  Sleeps s;
  int calls = 0;
  absl::Status st = CallWithRetry(
      p, nullptr, &rng,
      [&](int) {
        ++calls;
        return absl::InvalidArgumentError("bad");
      },
      s.Fn());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(st.message(), "bad");

  calls = 0;
  st = CallWithRetry(
      p, nullptr, &rng,
      [&](int) {
        ++calls;
        return absl::DeadlineExceededError("slow");
      },
      s.Fn());
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(st.message(), "slow (after 3 attempts)");
}

TEST(RetryTest, BudgetThrottlesRetriesAndRefillsOnSuccess) {
  RetryBudget budget(/*max_tokens=*/4, /*refund_per_success=*/1);
  EXPECT_TRUE(budget.TryRetry());  // 3 left
  EXPECT_TRUE(budget.TryRetry());  // 2 left: at half now
  EXPECT_FALSE(budget.TryRetry());
  budget.OnSuccess();  // 3
  EXPECT_TRUE(budget.TryRetry());

  RetryPolicy p;
  p.max_attempts = 100;
  std::mt19937_64 rng(1);
  Sleeps s;
  RetryBudget small(2, 0.1);  // allows exactly one retry
  int calls = 0;
  const absl::Status st = CallWithRetry(
      p, &small, &rng,
      [&](int) {
        ++calls;
        return absl::UnavailableError("down");
      },
      s.Fn());
  EXPECT_EQ(calls, 2);
  EXPECT_NE(std::string(st.message()).find("retry budget exhausted"), std::string::npos);
}

}  // namespace
}  // namespace pelican
