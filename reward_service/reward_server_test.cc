// The reward service over real gRPC on loopback: scoring, batching across clients, validation,
// admission control, deadlines, security and draining.
#include "reward_service/reward_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/health_check_service_interface.h"
#include "pelican/v1/reward.grpc.pb.h"

namespace pelican::reward {
namespace {

v1::RunConfig Config(const std::string& extra = "") {
  auto c = ParseRunConfig(absl::StrCat(R"(security: {insecure: true}
reward:
  max_wait_ms: 2
  scorers:
    - name: exact
      exact_match: {extract: hashes}
)",
                                       extra),
                          "test.yaml");
  PELICAN_CHECK_OK(c.status());
  return *c;
}

class Fixture {
 public:
  explicit Fixture(const v1::RunConfig& config) : config_(config) {
    auto rpc = RpcSettings::FromConfig(config.security(), config.rpc());
    PELICAN_CHECK_OK(rpc.status());
    auto scorers = BuildScorerSet(config.reward());
    PELICAN_CHECK_OK(scorers.status());
    RewardServerOptions opt;
    opt.vocab_size = 1000;
    opt.workers = 2;
    v1::RewardModelInfo rm;
    rm.set_name("rm");
    rm.set_path("models/rm");
    rm.set_version("0123456789abcdef");
    opt.reward_models.push_back(rm);
    auto server = RewardServer::Start(config.reward(), *std::move(scorers), *rpc, opt);
    PELICAN_CHECK_OK(server.status());
    server_ = *std::move(server);
    channel_ = rpc->MakeChannel(absl::StrCat("127.0.0.1:", server_->port()));
    stub_ = v1::RewardService::NewStub(channel_);
  }
  RewardServer& server() { return *server_; }
  v1::RewardService::Stub& stub() { return *stub_; }

  grpc::Status Score(const v1::ScoreRequest& req, v1::ScoreResponse* resp,
                     absl::Duration deadline = absl::Seconds(20)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    return stub_->Score(&ctx, req, resp);
  }

  grpc::health::v1::HealthCheckResponse::ServingStatus Health() {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    const grpc::Status st = stub->Check(&ctx, req, &resp);
    return st.ok() ? resp.status() : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  }

 private:
  v1::RunConfig config_;
  std::unique_ptr<RewardServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RewardService::Stub> stub_;
};

v1::Sample Sample(const std::string& id, const std::string& completion, const std::string& ref) {
  v1::Sample s;
  s.set_id(id);
  s.add_prompt_ids(1);
  s.add_completion_ids(2);
  s.set_prompt_text("2+2=");
  s.set_completion_text(completion);
  if (!ref.empty()) (*s.mutable_metadata())["reference"] = ref;
  return s;
}

long RssKiB() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

TEST(RewardServerTest, ConcurrentClientsGetTheirOwnScores) {
  Fixture f(Config());
  EXPECT_EQ(f.Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  constexpr int kClients = 8, kCalls = 20;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      for (int k = 0; k < kCalls; ++k) {
        v1::ScoreRequest req;
        for (int i = 0; i < 3; ++i) {
          const int answer = c * 1000 + k * 10 + i;
          // Every other sample answers wrongly.
          *req.add_samples() =
              Sample(absl::StrCat(c, "/", k, "/", i),
                     absl::StrCat("so #### ", i % 2 ? answer + 1 : answer), std::to_string(answer));
        }
        v1::ScoreResponse resp;
        const grpc::Status st = f.Score(req, &resp);
        if (!st.ok() || resp.results_size() != 3) {
          wrong++;
          continue;
        }
        for (int i = 0; i < 3; ++i) {
          const auto& r = resp.results(i);
          if (r.id() != absl::StrCat(c, "/", k, "/", i) || r.code() != 0 || !r.has_reward() ||
              r.reward() != (i % 2 ? 0.0 : 1.0)) {
            wrong++;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(RewardServerTest, SampleWithoutReferenceIsAnErrorNotAReward) {
  Fixture f(Config());
  v1::ScoreRequest req;
  *req.add_samples() = Sample("good", "#### 4", "4");
  *req.add_samples() = Sample("no-ref", "#### 4", "");
  v1::ScoreResponse resp;
  ASSERT_TRUE(f.Score(req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 2);
  EXPECT_EQ(resp.results(0).code(), 0);
  EXPECT_EQ(resp.results(0).reward(), 1.0);
  EXPECT_NE(resp.results(1).code(), 0);
  EXPECT_FALSE(resp.results(1).has_reward());
  EXPECT_NE(resp.results(1).message().find("reference"), std::string::npos)
      << resp.results(1).message();
}

TEST(RewardServerTest, MalformedRequestsAreRefusedAndTheServerStaysHealthy) {
  Fixture f(Config("  max_sample_tokens: 16\n"));
  auto bad = [](int i) {
    v1::ScoreRequest req;
    switch (i % 4) {
      case 0:
        break;  // empty
      case 1:
        *req.add_samples() = Sample("x", "#### 1", "1");
        req.mutable_samples(0)->add_completion_ids(5000);  // outside the vocabulary
        break;
      case 2:
        *req.add_samples() = Sample("x", "#### 1", "1");
        for (int k = 0; k < 40; ++k) req.mutable_samples(0)->add_completion_ids(3);  // too long
        break;
      case 3:
        *req.add_samples() = Sample("x", "#### 1", "1");
        req.set_scorer("no-such-scorer");
        break;
    }
    return req;
  };
  // Warm up, then measure: a leak per call would show over 1,000 calls.
  for (int i = 0; i < 100; ++i) {
    v1::ScoreResponse resp;
    f.Score(bad(i), &resp);
  }
  const long rss_before = RssKiB();
  int invalid = 0;
  std::string messages[4];
  for (int i = 0; i < 1000; ++i) {
    v1::ScoreResponse resp;
    const grpc::Status st = f.Score(bad(i), &resp);
    invalid += st.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
    messages[i % 4] = st.error_message();
  }
  EXPECT_EQ(invalid, 1000);
  EXPECT_LT(RssKiB() - rss_before, 8 * 1024) << "RSS grew over 1,000 bad calls";
  EXPECT_EQ(f.Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_NE(messages[1].find("5000"), std::string::npos) << messages[1];
  EXPECT_NE(messages[3].find("no-such-scorer"), std::string::npos) << messages[3];
  // And good calls still work.
  v1::ScoreRequest req;
  *req.add_samples() = Sample("ok", "#### 1", "1");
  v1::ScoreResponse resp;
  EXPECT_TRUE(f.Score(req, &resp).ok());
}

TEST(RewardServerTest, FullQueueAnswersResourceExhausted) {
  // Batches wait long to fill, so queued samples stay queued.
  Fixture f(Config("  queue_capacity: 6\n  max_wait_ms: 3000\n  max_batch_size: 1000\n"));
  v1::ScoreRequest four;
  for (int i = 0; i < 4; ++i) *four.add_samples() = Sample(std::to_string(i), "#### 1", "1");
  grpc::ClientContext ctx;
  v1::ScoreResponse first_resp;
  std::promise<grpc::Status> first;
  f.stub().async()->Score(&ctx, &four, &first_resp,
                          [&](grpc::Status st) { first.set_value(std::move(st)); });
  absl::SleepFor(absl::Milliseconds(300));
  v1::ScoreResponse resp;
  const grpc::Status st = f.Score(four, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_TRUE(first.get_future().get().ok());
  EXPECT_EQ(first_resp.results_size(), 4);
}

TEST(RewardServerTest, ExpiredCallsGetDeadlineExceeded) {
  Fixture f(Config("  max_wait_ms: 2000\n  max_batch_size: 1000\n"));
  v1::ScoreRequest req;
  *req.add_samples() = Sample("x", "#### 1", "1");
  v1::ScoreResponse resp;
  EXPECT_EQ(f.Score(req, &resp, absl::Milliseconds(200)).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST(RewardServerTest, DrainFinishesInFlightCallsThenStops) {
  Fixture f(Config("  max_wait_ms: 500\n  max_batch_size: 1000\n"));
  v1::ScoreRequest req;
  *req.add_samples() = Sample("x", "#### 1", "1");
  grpc::ClientContext ctx;
  v1::ScoreResponse resp;
  std::promise<grpc::Status> done;
  f.stub().async()->Score(&ctx, &req, &resp, [&](grpc::Status st) { done.set_value(st); });
  absl::SleepFor(absl::Milliseconds(100));  // the call is now waiting in the batcher
  std::thread drain([&] { f.server().Drain(absl::Seconds(10)); });
  const grpc::Status st = done.get_future().get();
  drain.join();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.results_size(), 1);
  v1::ScoreResponse after;
  EXPECT_FALSE(f.Score(req, &after, absl::Seconds(2)).ok());
}

TEST(RewardServerTest, TokenIsRequired) {
  const std::string token_file = ::testing::TempDir() + "/reward.token";
  PELICAN_CHECK_OK(WriteFileAtomic(token_file, "tok-123"));
  v1::RunConfig c = Config();
  c.mutable_security()->set_token_file(token_file);
  Fixture f(c);
  v1::ScoreRequest req;
  *req.add_samples() = Sample("x", "#### 1", "1");
  v1::ScoreResponse resp;
  EXPECT_EQ(f.Score(req, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer tok-123");
  EXPECT_TRUE(f.stub().Score(&ctx, req, &resp).ok());
}

TEST(RewardServerTest, InfoListsScorers) {
  Fixture f(Config());
  grpc::ClientContext ctx;
  v1::InfoResponse info;
  ASSERT_TRUE(f.stub().Info(&ctx, v1::InfoRequest(), &info).ok());
  ASSERT_GE(info.scorers_size(), 1);
  EXPECT_EQ(info.vocab_size(), 1000);
  ASSERT_EQ(info.reward_models_size(), 1);
  EXPECT_EQ(info.reward_models(0).path(), "models/rm");
  EXPECT_EQ(info.reward_models(0).version(), "0123456789abcdef");
}

}  // namespace
}  // namespace pelican::reward
