// The actors' reward client against real reward servers on loopback: round robin over replicas,
// retries while a replica comes up, no retries for bad input.
#include "common/reward_client.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/net.h"
#include "common/status_macros.h"
#include "reward_service/reward_server.h"

namespace pelican::reward {
namespace {

v1::RunConfig Config() {
  auto c = ParseRunConfig(R"(security: {insecure: true}
reward:
  max_wait_ms: 1
  scorers:
    - name: exact
      exact_match: {extract: hashes}
)",
                          "test.yaml");
  PELICAN_CHECK_OK(c.status());
  return *c;
}

RpcSettings Rpc() {
  const v1::RunConfig c = Config();
  return *RpcSettings::FromConfig(c.security(), c.rpc());
}

std::unique_ptr<RewardServer> StartServer(const std::string& listen,
                                          std::shared_ptr<prometheus::Registry> registry) {
  const v1::RunConfig c = Config();
  RewardServerOptions opt;
  opt.listen = listen;
  opt.registry = std::move(registry);
  auto scorers = BuildScorerSet(c.reward());
  PELICAN_CHECK_OK(scorers.status());
  auto server = RewardServer::Start(c.reward(), *std::move(scorers), Rpc(), opt);
  PELICAN_CHECK_OK(server.status());
  return *std::move(server);
}

double OkCalls(prometheus::Registry& registry) {
  for (const auto& family : registry.Collect()) {
    if (family.name != "pelican_reward_calls_total") continue;
    for (const auto& m : family.metric) {
      for (const auto& l : m.label) {
        if (l.name == "code" && l.value == "OK") return m.counter.value;
      }
    }
  }
  return 0;
}

v1::ScoreRequest Request() {
  v1::ScoreRequest req;
  v1::Sample* s = req.add_samples();
  s->set_id("a");
  s->set_completion_text("#### 3");
  (*s->mutable_metadata())["reference"] = "3";
  return req;
}

TEST(RewardClientTest, SpreadsCallsOverReplicas) {
  auto r1 = std::make_shared<prometheus::Registry>();
  auto r2 = std::make_shared<prometheus::Registry>();
  auto s1 = StartServer("127.0.0.1:0", r1);
  auto s2 = StartServer("127.0.0.1:0", r2);
  RewardClient client(absl::StrCat("ipv4:127.0.0.1:", s1->port(), ",127.0.0.1:", s2->port()), Rpc(),
                      RetryPolicy{}, absl::Seconds(10));
  for (int i = 0; i < 40; ++i) {
    auto resp = client.Score(Request());
    ASSERT_TRUE(resp.ok()) << resp.status();
    ASSERT_EQ(resp->results(0).reward(), 1.0);
  }
  EXPECT_EQ(OkCalls(*r1) + OkCalls(*r2), 40);
  EXPECT_GE(OkCalls(*r1), 10) << "round robin should reach both replicas";
  EXPECT_GE(OkCalls(*r2), 10);
}

TEST(RewardClientTest, RetriesUntilTheReplicaIsUp) {
  const int port = *PickFreePort("127.0.0.1");
  std::unique_ptr<RewardServer> late;
  std::thread starter([&] {
    absl::SleepFor(absl::Milliseconds(400));
    late = StartServer(absl::StrCat("127.0.0.1:", port), nullptr);
  });
  RetryPolicy policy;
  policy.max_attempts = 30;
  policy.initial_backoff = absl::Milliseconds(50);
  policy.max_backoff = absl::Milliseconds(200);
  RewardClient client(absl::StrCat("127.0.0.1:", port), Rpc(), policy, absl::Seconds(5),
                      /*budget_tokens=*/60);
  auto resp = client.Score(Request());
  starter.join();
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_GT(client.retries(), 0);
}

TEST(RewardClientTest, BadInputIsNotRetried) {
  auto server = StartServer("127.0.0.1:0", nullptr);
  RewardClient client(absl::StrCat("127.0.0.1:", server->port()), Rpc(), RetryPolicy{},
                      absl::Seconds(5));
  auto resp = client.Score(v1::ScoreRequest());  // empty batch
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.retries(), 0);
  auto info = client.Info();
  ASSERT_TRUE(info.ok());
  EXPECT_GE(info->scorers_size(), 1);
}

}  // namespace
}  // namespace pelican::reward
