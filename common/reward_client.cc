#include "common/reward_client.h"

#include "common/grpc_status.h"

namespace pelican {

RewardClient::RewardClient(const std::string& target, const RpcSettings& rpc, RetryPolicy policy,
                           absl::Duration deadline, double budget_tokens)
    : rpc_(rpc),
      policy_(policy),
      deadline_(deadline),
      stub_(v1::RewardService::NewStub(rpc.MakeChannel(target, /*round_robin=*/true))),
      budget_(budget_tokens),
      rng_(std::random_device{}()) {}

absl::StatusOr<v1::ScoreResponse> RewardClient::Score(const v1::ScoreRequest& request) {
  v1::ScoreResponse response;
  std::mt19937_64 rng;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rng.seed(rng_());
  }
  const absl::Status st = CallWithRetry(policy_, &budget_, &rng, [&](int attempt) {
    if (attempt > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      ++retries_;
    }
    response.Clear();
    auto ctx = rpc_.NewClientContext(deadline_);
    return FromGrpcStatus(stub_->Score(ctx.get(), request, &response));
  });
  if (!st.ok()) return st;
  if (response.results_size() != request.samples_size()) {
    return absl::InternalError("reward service answered a different number of results");
  }
  return response;
}

absl::StatusOr<v1::InfoResponse> RewardClient::Info() {
  v1::InfoResponse response;
  auto ctx = rpc_.NewClientContext(deadline_);
  const absl::Status st = FromGrpcStatus(stub_->Info(ctx.get(), v1::InfoRequest(), &response));
  if (!st.ok()) return st;
  return response;
}

int64_t RewardClient::retries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return retries_;
}

}  // namespace pelican
