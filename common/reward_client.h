// The actors' client of RewardService: every call has a deadline, transient failures
// (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) are retried with jittered exponential
// backoff under a retry budget, and calls are spread over replicas with gRPC's round_robin
// policy ("dns:///reward:50052" for a headless Service, "ipv4:10.0.0.1:50052,10.0.0.2:50052" for
// a fixed list, or one "host:port").
//
// Thread safety: Score and Info may be called concurrently.
#ifndef PELICAN_COMMON_REWARD_CLIENT_H_
#define PELICAN_COMMON_REWARD_CLIENT_H_

#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/retry.h"
#include "common/rpc.h"
#include "pelican/v1/reward.grpc.pb.h"

namespace pelican {

class RewardClient {
 public:
  // `budget_tokens`: size of the retry budget (retries stop while fewer than half are left).
  RewardClient(const std::string& target, const RpcSettings& rpc, RetryPolicy policy,
               absl::Duration deadline, double budget_tokens = 10);

  // Scores `request`; each attempt has the full deadline. The response has one result per
  // sample; a sample's own error is in its result, not in the returned status.
  absl::StatusOr<v1::ScoreResponse> Score(const v1::ScoreRequest& request);
  absl::StatusOr<v1::InfoResponse> Info();

  // Retries made so far (for metrics).
  int64_t retries() const;

 private:
  const RpcSettings rpc_;
  const RetryPolicy policy_;
  const absl::Duration deadline_;
  std::unique_ptr<v1::RewardService::Stub> stub_;
  RetryBudget budget_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;  // guarded by mu_
  int64_t retries_ = 0;  // guarded by mu_
};

}  // namespace pelican

#endif  // PELICAN_COMMON_REWARD_CLIENT_H_
