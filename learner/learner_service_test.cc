// LearnerService over real gRPC on loopback, with fake actors: registration, leases, idempotent
// pushes, staleness, expiry, the ledger balance, and the weight stream.
#include "learner/learner_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "learner/jsonl_prompt_source.h"

namespace pelican {
namespace {

constexpr char kFingerprint[] = "cfg-fp";
constexpr char kTokenizer[] = "tok-fp";

constexpr int64_t kVocab = 128;  // the fixture's prompt ids are the characters of "<i>+1="

class Fixture {
 public:
  explicit Fixture(uint32_t n_samples = 1) {
    const std::string path = ::testing::TempDir() + "/learner_service_prompts.jsonl";
    std::string jsonl;
    for (int i = 0; i < 50; ++i) absl::StrAppend(&jsonl, "{\"prompt\": \"", i, "+1=\"}\n");
    PELICAN_CHECK_OK(WriteFileAtomic(path, jsonl));
    auto source = JsonlPromptSource::Open(
        path, JsonlPromptSourceOptions{},
        [](const std::string& text) { return std::vector<int32_t>(text.begin(), text.end()); });
    PELICAN_CHECK_OK(source.status());
    PromptLedgerOptions lo;
    lo.samples_per_prompt = n_samples;
    lo.prompts_per_step = 4;
    lo.max_policy_lag = 1;
    lo.lease_timeout = absl::Seconds(60);
    ledger_ = std::make_unique<PromptLedger>(lo, *std::move(source), &clock_);
    v1::RunConfig cfg = DefaultRunConfig();
    cfg.mutable_security()->set_insecure(true);
    rpc_ = std::make_unique<RpcSettings>(*RpcSettings::FromConfig(cfg.security(), cfg.rpc()));
    LearnerServiceOptions so{"run-1", kFingerprint, kTokenizer, absl::Seconds(60),
                             /*vocab_size=*/kVocab};
    service_ = std::make_unique<LearnerService>(so, ledger_.get(), &weights_, *rpc_, &clock_);
    grpc::ServerBuilder builder;
    int port = 0;
    rpc_->ConfigureServer("127.0.0.1:0", &builder, &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    PELICAN_CHECK(server_ != nullptr);
    stub_ = v1::LearnerService::NewStub(rpc_->MakeChannel(absl::StrCat("127.0.0.1:", port)));
  }
  ~Fixture() {
    weights_.Close();
    server_->Shutdown();
  }

  v1::LearnerService::Stub& stub() { return *stub_; }
  LearnerService& service() { return *service_; }
  PromptLedger& ledger() { return *ledger_; }
  WeightStore& weights() { return weights_; }
  ManualClock& clock() { return clock_; }

  std::unique_ptr<grpc::ClientContext> Ctx() { return rpc_->NewClientContext(absl::Seconds(10)); }

  std::string Register(const std::string& name) {
    v1::RegisterActorRequest req;
    req.set_actor_name(name);
    req.set_config_fingerprint(kFingerprint);
    req.set_tokenizer_fingerprint(kTokenizer);
    v1::RegisterActorResponse resp;
    PELICAN_CHECK(stub_->RegisterActor(Ctx().get(), req, &resp).ok());
    return resp.actor_id();
  }

  std::vector<v1::LeasedPrompt> Lease(const std::string& actor, uint32_t n) {
    v1::LeasePromptsRequest req;
    req.set_actor_id(actor);
    req.set_n(n);
    v1::LeasePromptsResponse resp;
    PELICAN_CHECK(stub_->LeasePrompts(Ctx().get(), req, &resp).ok());
    return {resp.prompts().begin(), resp.prompts().end()};
  }

  v1::PushRolloutsResponse Push(const std::string& actor, uint64_t seq,
                                const std::vector<v1::LeasedPrompt>& leases, uint64_t version,
                                uint32_t n_samples = 1) {
    v1::PushRolloutsRequest req;
    req.set_actor_id(actor);
    req.set_batch_seq(seq);
    for (const auto& l : leases) {
      for (uint32_t i = 0; i < n_samples; ++i) {
        v1::Trajectory* t = req.add_trajectories();
        t->set_trajectory_id(absl::StrCat(actor, "/", seq, "/", l.lease_id(), "/", i));
        t->set_lease_id(l.lease_id());
        t->set_actor_id(actor);
        t->set_policy_version(version);
        *t->mutable_prompt_ids() = l.prompt_ids();
        t->add_completion_ids(5);
        t->add_logprobs(-0.5f);
        t->set_reward(1.0);
        t->set_sample_index(i);
      }
    }
    v1::PushRolloutsResponse resp;
    PELICAN_CHECK(stub_->PushRollouts(Ctx().get(), req, &resp).ok());
    return resp;
  }

  v1::LearnerStatus Status() {
    v1::LearnerStatus st;
    PELICAN_CHECK(stub_->GetStatus(Ctx().get(), v1::GetStatusRequest(), &st).ok());
    return st;
  }

 private:
  ManualClock clock_;
  std::unique_ptr<PromptLedger> ledger_;
  WeightStore weights_;
  std::unique_ptr<RpcSettings> rpc_;
  std::unique_ptr<LearnerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::LearnerService::Stub> stub_;
};

void ExpectBalanced(const v1::LearnerStatus& st) {
  uint64_t dropped = 0;
  for (const auto& [reason, n] : st.ledger().dropped()) dropped += n;
  EXPECT_EQ(st.ledger().leased(), st.ledger().consumed() + dropped + st.ledger().in_flight())
      << st.DebugString();
}

TEST(LearnerServiceTest, RegistrationChecksFingerprints) {
  Fixture f;
  EXPECT_EQ(f.Register("actor-a"), "actor-a");
  v1::RegisterActorRequest req;
  req.set_actor_name("actor-b");
  req.set_config_fingerprint("other");
  req.set_tokenizer_fingerprint(kTokenizer);
  v1::RegisterActorResponse resp;
  grpc::Status st = f.stub().RegisterActor(f.Ctx().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("config fingerprint other"), std::string::npos);
  req.set_config_fingerprint(kFingerprint);
  req.set_tokenizer_fingerprint("other-tok");
  st = f.stub().RegisterActor(f.Ctx().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("tokenizer"), std::string::npos);
}

TEST(LearnerServiceTest, CountsConnectedActorsNotYetToldTheRunIsDone) {
  Fixture f;
  const std::string a = f.Register("actor-a");
  const std::string b = f.Register("actor-b");
  EXPECT_EQ(f.service().actors_not_told_done(), 2u);
  f.service().SetDone();
  v1::LeasePromptsRequest req;
  req.set_actor_id(a);
  req.set_n(1);
  v1::LeasePromptsResponse resp;
  ASSERT_TRUE(f.stub().LeasePrompts(f.Ctx().get(), req, &resp).ok());
  EXPECT_TRUE(resp.done());
  EXPECT_EQ(resp.prompts_size(), 0);
  EXPECT_EQ(f.service().actors_not_told_done(), 1u);  // b has not asked since
  // An actor that stopped calling (killed) stops counting once it times out.
  f.clock().Advance(absl::Seconds(61));
  EXPECT_EQ(f.service().actors_not_told_done(), 0u);
}

TEST(LearnerServiceTest, RetriedPushIsNotCountedTwice) {
  Fixture f;
  const std::string a = f.Register("actor-a");
  const auto leases = f.Lease(a, 3);
  ASSERT_EQ(leases.size(), 3u);
  const auto first = f.Push(a, 1, leases, 0);
  EXPECT_EQ(first.accepted(), 3u);
  EXPECT_FALSE(first.duplicate());
  const auto retry = f.Push(a, 1, leases, 0);
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.accepted(), 0u);
  const auto st = f.Status();
  EXPECT_EQ(st.ledger().leased(), 3u);
  EXPECT_EQ(st.queue_size(), 3u);
  EXPECT_EQ(st.actors_connected(), 1u);
  ExpectBalanced(st);
}

TEST(LearnerServiceTest, MalformedPushIsRefusedWholeAndItsLeasesStayOpen) {
  Fixture f;
  const std::string a = f.Register("actor-a");
  const auto leases = f.Lease(a, 2);
  ASSERT_EQ(leases.size(), 2u);
  v1::PushRolloutsRequest good;
  good.set_actor_id(a);
  good.set_batch_seq(1);
  for (const auto& l : leases) {
    v1::Trajectory* t = good.add_trajectories();
    t->set_trajectory_id(absl::StrCat(a, "/1/", l.lease_id()));
    t->set_lease_id(l.lease_id());
    t->set_actor_id(a);
    *t->mutable_prompt_ids() = l.prompt_ids();
    t->add_completion_ids(5);
    t->add_logprobs(-0.5f);
    t->set_reward(1.0);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::pair<std::function<void(v1::Trajectory*)>, std::string>> cases = {
      {[](v1::Trajectory* t) { t->set_completion_ids(0, kVocab); },
       "completion_ids[0] = 128 is outside the vocabulary [0, 128)"},
      {[](v1::Trajectory* t) { t->set_completion_ids(0, -3); }, "completion_ids[0] = -3"},
      {[](v1::Trajectory* t) { t->set_prompt_ids(0, 1 << 20); }, "prompt_ids[0]"},
      {[](v1::Trajectory* t) {
         t->clear_completion_ids();
         t->clear_logprobs();
       },
       "completion_ids is empty"},
      {[nan](v1::Trajectory* t) { t->set_reward(nan); }, "reward nan is not finite"},
      {[](v1::Trajectory* t) { t->set_reward(std::numeric_limits<double>::infinity()); },
       "reward inf is not finite"},
      {[nan](v1::Trajectory* t) { t->set_logprobs(0, static_cast<float>(nan)); }, "logprobs[0]"},
      {[](v1::Trajectory* t) { t->add_logprobs(-1.0f); }, "2 logprobs for 1 completion ids"},
  };
  for (const auto& [corrupt, expected] : cases) {
    v1::PushRolloutsRequest bad = good;
    corrupt(bad.mutable_trajectories(1));
    v1::PushRolloutsResponse resp;
    const grpc::Status st = f.stub().PushRollouts(f.Ctx().get(), bad, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << expected;
    EXPECT_THAT(st.error_message(), ::testing::HasSubstr("trajectory 1")) << expected;
    EXPECT_THAT(st.error_message(), ::testing::HasSubstr(expected));
  }
  // Nothing was taken in, nor marked as seen: the same batch, well formed, is accepted in full.
  EXPECT_EQ(f.Status().queue_size(), 0u);
  v1::PushRolloutsResponse resp;
  ASSERT_TRUE(f.stub().PushRollouts(f.Ctx().get(), good, &resp).ok());
  EXPECT_EQ(resp.accepted(), 2u);
  EXPECT_FALSE(resp.duplicate());
  ExpectBalanced(f.Status());
}

TEST(LearnerServiceTest, StaleTrajectoriesAreDroppedAndCounted) {
  Fixture f;
  const std::string a = f.Register("actor-a");
  const auto leases = f.Lease(a, 2);
  f.ledger().SetPolicyVersion(3);  // max lag is 1: version 1 is stale
  const auto resp = f.Push(a, 1, leases, 1);
  EXPECT_EQ(resp.dropped(), 2u);
  const auto st = f.Status();
  EXPECT_EQ(st.ledger().dropped().at("stale"), 2u);
  ExpectBalanced(st);
}

TEST(LearnerServiceTest, ExpiredLeaseIsHandedOutAgainAndLatePushDropped) {
  Fixture f;
  const std::string a = f.Register("actor-a");
  const std::string b = f.Register("actor-b");
  const auto old = f.Lease(a, 1);
  ASSERT_EQ(old.size(), 1u);
  f.clock().Advance(absl::Seconds(61));  // actor-a "died"
  const auto again = f.Lease(b, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].prompt_text(), old[0].prompt_text());
  EXPECT_NE(again[0].lease_id(), old[0].lease_id());
  const auto late = f.Push(a, 1, old, 0);
  EXPECT_EQ(late.accepted(), 0u);
  EXPECT_EQ(late.dropped(), 1u);
  EXPECT_EQ(f.Push(b, 1, again, 0).accepted(), 1u);
  const auto st = f.Status();
  EXPECT_EQ(st.ledger().leased(), 2u);
  EXPECT_EQ(st.ledger().dropped().at("expired"), 1u);
  ExpectBalanced(st);
}

TEST(LearnerServiceTest, LedgerBalancesAcrossConcurrentActorsAndSteps) {
  Fixture f(/*n_samples=*/2);
  std::vector<std::thread> actors;
  for (int k = 0; k < 4; ++k) {
    actors.emplace_back([&f, k] {
      const std::string id = f.Register(absl::StrCat("actor-", k));
      for (uint64_t seq = 1; seq <= 5; ++seq) {
        const auto leases = f.Lease(id, 2);
        f.Push(id, seq, leases, 0, 2);
        if (seq % 2 == 0) f.Push(id, seq, leases, 0, 2);  // a retry
      }
    });
  }
  for (auto& t : actors) t.join();
  size_t consumed = 0;
  for (auto groups = f.ledger().TryTakeBatch(); !groups.empty();
       groups = f.ledger().TryTakeBatch()) {
    consumed += groups.size();
  }
  const auto st = f.Status();
  EXPECT_EQ(st.ledger().leased(), 40u);
  EXPECT_EQ(st.ledger().consumed(), consumed);
  EXPECT_EQ(consumed, 40u);
  ExpectBalanced(st);
}

TensorMap Weights(float fill) {
  TensorMap m;
  m["w"] = torch::full({64, 8}, fill);
  return m;
}

TEST(LearnerServiceTest, WatchWeightsStreamsCurrentThenNewVersions) {
  Fixture f;
  auto v1w = EncodeWeights(1, Weights(1), 512);
  ASSERT_TRUE(v1w.ok());
  f.weights().Publish(std::make_shared<EncodedWeights>(*v1w));

  auto ctx = f.Ctx();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  v1::WatchWeightsRequest req;
  req.set_actor_id("actor-a");
  auto reader = f.stub().WatchWeights(ctx.get(), req);
  WeightAssembler assembler;
  std::vector<uint64_t> versions;
  std::vector<float> values;
  v1::WeightChunk chunk;
  bool published_v2 = false;
  while (reader->Read(&chunk)) {
    auto r = assembler.Add(chunk);
    ASSERT_TRUE(r.ok()) << r.status();
    if (!r->has_value()) continue;
    versions.push_back(assembler.version());
    values.push_back((*r)->at("w")[0][0].item<float>());
    if (!published_v2) {
      published_v2 = true;
      auto v2w = EncodeWeights(2, Weights(2), 512);
      f.weights().Publish(std::make_shared<EncodedWeights>(*v2w));
    } else {
      f.weights().Close();  // the run is over: the stream ends OK
    }
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(versions, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(values, (std::vector<float>{1, 2}));
}

TEST(LearnerServiceTest, WatcherWithTheCurrentVersionWaitsForANewerOne) {
  Fixture f;
  f.weights().Publish(std::make_shared<EncodedWeights>(*EncodeWeights(5, Weights(5), 1 << 20)));
  auto ctx = f.Ctx();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
  v1::WatchWeightsRequest req;
  req.set_have_version(5);
  auto reader = f.stub().WatchWeights(ctx.get(), req);
  v1::WeightChunk chunk;
  EXPECT_FALSE(reader->Read(&chunk));  // nothing newer before the deadline
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
}  // namespace pelican
