#include "learner/prompt_ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "learner/ledger_test_util.h"

namespace pelican {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using testing_util::CountingSource;
using testing_util::Sample;

class PromptLedgerTest : public ::testing::Test {
 protected:
  PromptLedgerTest() {
    options_.samples_per_prompt = 2;
    options_.prompts_per_step = 2;
    options_.max_policy_lag = 2;
    options_.lease_timeout = absl::Seconds(60);
    options_.max_prompts_per_lease = 8;
  }

  std::unique_ptr<PromptLedger> NewLedger(uint64_t fail_at = UINT64_MAX) {
    return std::make_unique<PromptLedger>(options_, std::make_unique<CountingSource>(fail_at),
                                          &clock_);
  }

  std::vector<v1::LeasedPrompt> LeaseOk(PromptLedger& ledger, const std::string& actor, int n) {
    absl::StatusOr<std::vector<v1::LeasedPrompt>> leases = ledger.Lease(actor, n);
    EXPECT_TRUE(leases.ok()) << leases.status();
    EXPECT_TRUE(ledger.CheckInvariants().ok()) << ledger.CheckInvariants();
    return leases.ok() ? *leases : std::vector<v1::LeasedPrompt>{};
  }

  // Pushes and returns {accepted, dropped, duplicate}, checking the invariants afterwards.
  std::tuple<uint32_t, uint32_t, bool> PushOk(PromptLedger& ledger, const std::string& actor,
                                              uint64_t seq, std::vector<v1::Trajectory> ts) {
    absl::StatusOr<v1::PushRolloutsResponse> r = ledger.Push(actor, seq, std::move(ts));
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(ledger.CheckInvariants().ok()) << ledger.CheckInvariants();
    if (!r.ok()) return {0, 0, false};
    return {r->accepted(), r->dropped(), r->duplicate()};
  }

  // Both samples of `lease`, at `version`.
  static std::vector<v1::Trajectory> Group(const v1::LeasedPrompt& lease, uint64_t version) {
    return {Sample(lease, 0, version), Sample(lease, 1, version)};
  }

  PromptLedgerOptions options_;
  ManualClock clock_;
};

TEST(PromptLedgerOptionsTest, FromConfig) {
  v1::RunConfig config;
  config.mutable_actors()->mutable_sampling()->set_n(4);
  config.mutable_actors()->set_prompts_per_batch(8);
  config.mutable_learner()->set_prompts_per_step(16);
  config.mutable_learner()->set_max_policy_lag(3);
  config.mutable_learner()->set_lease_timeout_s(1.5);
  const PromptLedgerOptions options = PromptLedgerOptions::FromConfig(config);
  EXPECT_EQ(options.samples_per_prompt, 4u);
  EXPECT_GE(options.max_outstanding, 2u * options.prompts_per_step);
  EXPECT_EQ(options.max_prompts_per_lease, 8u);
  EXPECT_EQ(options.prompts_per_step, 16u);
  EXPECT_EQ(options.max_policy_lag, 3u);
  EXPECT_EQ(options.lease_timeout, absl::Milliseconds(1500));
}

TEST_F(PromptLedgerTest, LeaseHandsOutPromptsUnderDeadlines) {
  auto ledger = NewLedger();
  const auto leases = LeaseOk(*ledger, "a", 3);
  ASSERT_EQ(leases.size(), 3u);
  const int64_t deadline = absl::ToUnixMillis(clock_.Now() + absl::Seconds(60));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(leases[i].lease_id(), i + 1u);
    EXPECT_EQ(leases[i].prompt_text(), absl::StrCat("p", i));
    EXPECT_THAT(leases[i].prompt_ids(), ElementsAre(i, i + 1));
    EXPECT_THAT(leases[i].metadata(), ElementsAre(Pair("reference", absl::StrCat("r", i))));
    EXPECT_EQ(leases[i].deadline_unix_ms(), deadline);
  }
  EXPECT_EQ(LeaseOk(*ledger, "a", 100).size(), 8u);  // capped at max_prompts_per_lease
  EXPECT_THAT(LeaseOk(*ledger, "a", 0), IsEmpty());
  EXPECT_EQ(ledger->Lease("", 1).status().code(), absl::StatusCode::kInvalidArgument);
  const LedgerStats stats = ledger->Stats();
  EXPECT_EQ(stats.leased, 11u);
  EXPECT_EQ(stats.open, 11u);
  EXPECT_EQ(stats.drawn, 11u);
}

// Actors cannot run further ahead of the trainer than max_outstanding prompts: leases resume as
// groups are consumed.
TEST_F(PromptLedgerTest, BackpressureCapsOpenAndQueuedPrompts) {
  options_.max_outstanding = 5;
  auto ledger = NewLedger();
  std::vector<v1::LeasedPrompt> first = LeaseOk(*ledger, "a", 4);
  EXPECT_EQ(first.size(), 4u);
  EXPECT_EQ(LeaseOk(*ledger, "b", 4).size(), 1u);  // 5 outstanding
  EXPECT_THAT(LeaseOk(*ledger, "b", 4), IsEmpty());
  // Completed groups still count until a step consumes them.
  PushOk(*ledger, "a", 1, Group(first[0], 0));
  PushOk(*ledger, "a", 2, Group(first[1], 0));
  EXPECT_THAT(LeaseOk(*ledger, "b", 4), IsEmpty());
  EXPECT_EQ(ledger->TryTakeBatch().size(), 2u);
  EXPECT_EQ(LeaseOk(*ledger, "b", 4).size(), 2u);
  const LedgerStats stats = ledger->Stats();
  EXPECT_EQ(stats.leased, 7u);
  EXPECT_EQ(stats.in_flight(), 5u);
}

TEST_F(PromptLedgerTest, CompleteGroupsQueueAndAStepConsumesThem) {
  auto ledger = NewLedger();
  const auto leases = LeaseOk(*ledger, "a", 3);
  // Samples of one group may arrive in different pushes and in any order.
  EXPECT_EQ(PushOk(*ledger, "a", 1, {Sample(leases[0], 1, 0), Sample(leases[1], 0, 0)}),
            std::make_tuple(2u, 0u, false));
  EXPECT_THAT(ledger->TryTakeBatch(), IsEmpty());
  EXPECT_EQ(ledger->Stats().queued, 0u);
  EXPECT_EQ(PushOk(*ledger, "a", 2, {Sample(leases[0], 0, 0), Sample(leases[2], 0, 0)}),
            std::make_tuple(2u, 0u, false));
  EXPECT_EQ(ledger->Stats().queued, 1u);
  EXPECT_THAT(ledger->TryTakeBatch(), IsEmpty());  // one group; a step needs two
  PushOk(*ledger, "a", 3, {Sample(leases[2], 1, 0)});

  const std::vector<PromptGroup> batch = ledger->TryTakeBatch();
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].lease_id, leases[0].lease_id());  // in the order groups completed
  EXPECT_EQ(batch[1].lease_id, leases[2].lease_id());
  EXPECT_EQ(batch[0].prompt.text, "p0");
  EXPECT_EQ(batch[0].actor_id, "a");
  ASSERT_EQ(batch[0].samples.size(), 2u);
  EXPECT_EQ(batch[0].samples[0].sample_index(), 0u);
  EXPECT_EQ(batch[0].samples[1].sample_index(), 1u);

  const LedgerStats stats = ledger->Stats();
  EXPECT_EQ(stats.consumed, 2u);
  EXPECT_EQ(stats.open, 1u);  // leases[1] still waits for its second sample
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.trajectories_accepted, 5u);
  EXPECT_EQ(stats.ToProto().in_flight(), 1u);
  EXPECT_TRUE(ledger->CheckInvariants().ok());
}

TEST_F(PromptLedgerTest, RetriedPushIsNotCountedTwice) {
  auto ledger = NewLedger();
  const auto leases = LeaseOk(*ledger, "a", 2);
  EXPECT_EQ(PushOk(*ledger, "a", 1, Group(leases[0], 0)), std::make_tuple(2u, 0u, false));
  const v1::LedgerState before = ledger->Save();

  // The retry carries the same trajectories (and, to be sure, some new ones): nothing counts.
  std::vector<v1::Trajectory> retry = Group(leases[0], 0);
  retry.push_back(Sample(leases[1], 0, 0));
  EXPECT_EQ(PushOk(*ledger, "a", 1, retry), std::make_tuple(0u, 0u, true));
  v1::LedgerState after = ledger->Save();
  EXPECT_EQ(after.duplicate_pushes(), 1u);
  after.set_duplicate_pushes(0);
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());

  // Out of order: 3 overtakes 2; both count once, and retries of either are duplicates.
  EXPECT_EQ(PushOk(*ledger, "a", 3, {Sample(leases[1], 0, 0)}), std::make_tuple(1u, 0u, false));
  EXPECT_EQ(PushOk(*ledger, "a", 2, {Sample(leases[1], 1, 0)}), std::make_tuple(1u, 0u, false));
  EXPECT_EQ(PushOk(*ledger, "a", 3, {Sample(leases[1], 0, 0)}), std::make_tuple(0u, 0u, true));
  EXPECT_EQ(PushOk(*ledger, "a", 2, {Sample(leases[1], 1, 0)}), std::make_tuple(0u, 0u, true));
  // Seqs are per actor: b's first push is not a's.
  EXPECT_EQ(std::get<2>(PushOk(*ledger, "b", 1, {})), false);

  const LedgerStats stats = ledger->Stats();
  EXPECT_EQ(stats.trajectories_accepted, 4u);
  EXPECT_EQ(stats.queued, 2u);
  EXPECT_EQ(stats.pushes, 4u);
  EXPECT_EQ(stats.duplicate_pushes, 3u);
  EXPECT_EQ(ledger->TryTakeBatch().size(), 2u);
  EXPECT_EQ(ledger->Stats().consumed, 2u);

  EXPECT_EQ(ledger->Push("a", 0, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger->Push("", 5, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PromptLedgerTest, ASeqFarAheadIsRefusedAndDoesNotWedgeTheWindow) {
  auto ledger = NewLedger();
  const auto leases = LeaseOk(*ledger, "a", 2);
  EXPECT_EQ(PushOk(*ledger, "a", 1, Group(leases[0], 0)), std::make_tuple(2u, 0u, false));
  for (const uint64_t far : {UINT64_MAX, uint64_t{1} + options_.push_window + 1}) {
    absl::StatusOr<v1::PushRolloutsResponse> r = ledger->Push("a", far, {});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << far;
    EXPECT_NE(r.status().message().find("ahead of its highest so far (1)"), std::string::npos)
        << r.status();
  }
  // The next valid push still counts, and the edge of the window is accepted.
  EXPECT_EQ(PushOk(*ledger, "a", 2, Group(leases[1], 0)), std::make_tuple(2u, 0u, false));
  EXPECT_EQ(std::get<2>(PushOk(*ledger, "a", 2 + options_.push_window, {})), false);
  EXPECT_EQ(ledger->Stats().pushes, 3u);
}

TEST_F(PromptLedgerTest, StaleSamplesAreDroppedAndCounted) {
  auto ledger = NewLedger();
  ledger->SetPolicyVersion(5);
  const auto leases = LeaseOk(*ledger, "a", 3);
  // lag 3 > max_policy_lag 2: the sample and its whole group are dropped as stale, and the other
  // sample of that lease in the same push is dropped for the same reason.
  EXPECT_EQ(PushOk(*ledger, "a", 1, {Sample(leases[0], 0, 2), Sample(leases[0], 1, 5)}),
            std::make_tuple(0u, 2u, false));
  // lag 2 and lag 0 are within the bound.
  EXPECT_EQ(PushOk(*ledger, "a", 2, {Sample(leases[1], 0, 3), Sample(leases[1], 1, 5)}),
            std::make_tuple(2u, 0u, false));
  // A late sample for the stale lease is just late now.
  EXPECT_EQ(PushOk(*ledger, "a", 3, {Sample(leases[0], 0, 5)}), std::make_tuple(0u, 1u, false));

  LedgerStats stats = ledger->Stats();
  EXPECT_THAT(stats.dropped, ElementsAre(Pair("stale", 1)));
  EXPECT_EQ(stats.trajectories_dropped.at("stale"), 2u);
  EXPECT_EQ(stats.trajectories_dropped.at("late"), 1u);
  // lag 0: three samples; lag 2: one; lag 3: one, in the overflow bucket.
  EXPECT_THAT(stats.lag_histogram, ElementsAre(3, 0, 1, 1));
  EXPECT_EQ(stats.pending_retry, 0u);  // stale prompts are not re-queued

  // A queued group can go stale waiting for a step: leases[1]'s oldest sample is version 3.
  PushOk(*ledger, "a", 4, Group(leases[2], 5));
  ledger->SetPolicyVersion(6);  // lag 3 for leases[1]
  EXPECT_THAT(ledger->TryTakeBatch(), IsEmpty());
  stats = ledger->Stats();
  EXPECT_THAT(stats.dropped, ElementsAre(Pair("stale", 2)));
  EXPECT_EQ(stats.queued, 1u);
  EXPECT_TRUE(ledger->CheckInvariants().ok());
}

TEST_F(PromptLedgerTest, ExpiredLeaseIsHandedOutAgainFirstAndItsLatePushDropped) {
  auto ledger = NewLedger();
  const auto old_leases = LeaseOk(*ledger, "a", 2);
  // One sample of old_leases[0] arrives in time; the actor then dies.
  PushOk(*ledger, "a", 1, {Sample(old_leases[0], 0, 0)});

  clock_.Advance(absl::Seconds(60));  // exactly at the deadline: not yet expired
  ledger->ExpireLeases();
  EXPECT_EQ(ledger->Stats().open, 2u);
  clock_.Advance(absl::Milliseconds(1));

  const auto new_leases = LeaseOk(*ledger, "b", 3);
  ASSERT_EQ(new_leases.size(), 3u);
  EXPECT_EQ(new_leases[0].prompt_text(), "p0");  // re-issued first, in expiry order
  EXPECT_EQ(new_leases[1].prompt_text(), "p1");
  EXPECT_EQ(new_leases[2].prompt_text(), "p2");  // then new prompts
  EXPECT_EQ(new_leases[0].lease_id(), 3u);       // under new lease ids
  LedgerStats stats = ledger->Stats();
  EXPECT_THAT(stats.dropped, ElementsAre(Pair("expired", 2)));
  EXPECT_EQ(stats.reissued, 2u);
  EXPECT_EQ(stats.leased, 5u);
  EXPECT_EQ(stats.drawn, 3u);

  // The old actor's late push for its expired leases is dropped and counted, not accepted.
  EXPECT_EQ(PushOk(*ledger, "a", 2, {Sample(old_leases[0], 1, 0), Sample(old_leases[1], 0, 0)}),
            std::make_tuple(0u, 2u, false));
  EXPECT_EQ(ledger->Stats().trajectories_dropped.at("late"), 2u);

  PushOk(*ledger, "b", 1, Group(new_leases[0], 0));
  PushOk(*ledger, "b", 2, Group(new_leases[1], 0));
  const auto batch = ledger->TryTakeBatch();
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].prompt.text, "p0");
  EXPECT_EQ(batch[0].actor_id, "b");
  stats = ledger->Stats();
  EXPECT_EQ(stats.consumed, 2u);
  EXPECT_EQ(stats.open, 1u);
  EXPECT_EQ(stats.leased, stats.consumed + stats.dropped_total() + stats.in_flight());
}

TEST_F(PromptLedgerTest, ContractViolationsEndTheLeaseAsError) {
  auto ledger = NewLedger();
  ledger->SetPolicyVersion(3);
  const auto leases = LeaseOk(*ledger, "a", 6);
  std::vector<v1::Trajectory> bad;
  bad.push_back(Sample(leases[0], 2, 3));  // sample_index outside the group of 2
  bad.push_back(Sample(leases[1], 0, 3));
  bad.back().set_prompt_ids(1, 99);        // not the leased prompt
  bad.push_back(Sample(leases[2], 0, 4));  // a version the learner does not have yet
  bad.push_back(Sample(leases[3], 0, 3, "someone-else"));
  bad.push_back(Sample(leases[4], 0, 3));
  bad.back().add_logprobs(-1.0f);          // three logprobs for two completion ids
  bad.push_back(Sample(leases[4], 1, 3));  // fine, but its group was just ended
  EXPECT_EQ(PushOk(*ledger, "a", 1, bad), std::make_tuple(0u, 6u, false));
  // The same sample_index twice, in two pushes.
  PushOk(*ledger, "a", 2, {Sample(leases[5], 0, 3)});
  EXPECT_EQ(PushOk(*ledger, "a", 3, {Sample(leases[5], 0, 3)}), std::make_tuple(0u, 1u, false));

  const LedgerStats stats = ledger->Stats();
  EXPECT_THAT(stats.dropped, ElementsAre(Pair("error", 6)));
  EXPECT_THAT(stats.trajectories_dropped, ElementsAre(Pair("invalid", 7)));
  EXPECT_EQ(stats.open, 0u);
  EXPECT_EQ(stats.pending_retry, 0u);
}

TEST_F(PromptLedgerTest, OnlyTheHolderCanAnswerALease) {
  auto ledger = NewLedger();
  const auto leases = LeaseOk(*ledger, "a", 1);
  EXPECT_EQ(PushOk(*ledger, "b", 1, Group(leases[0], 0)), std::make_tuple(0u, 2u, false));
  v1::LeasedPrompt never_issued = leases[0];
  never_issued.set_lease_id(1000);
  EXPECT_EQ(PushOk(*ledger, "a", 1, {Sample(never_issued, 0, 0)}), std::make_tuple(0u, 1u, false));
  EXPECT_THAT(ledger->Stats().trajectories_dropped, ElementsAre(Pair("unknown_lease", 3)));
  // a's lease is untouched by b's attempt.
  EXPECT_EQ(PushOk(*ledger, "a", 2, Group(leases[0], 0)), std::make_tuple(2u, 0u, false));
  EXPECT_EQ(ledger->Stats().queued, 1u);
}

TEST_F(PromptLedgerTest, ShutdownDropsEverythingInFlight) {
  auto ledger = NewLedger();
  const auto leases = LeaseOk(*ledger, "a", 3);
  PushOk(*ledger, "a", 1, Group(leases[0], 0));  // queued
  clock_.Advance(absl::Seconds(61));
  ledger->ExpireLeases();    // leases[1], [2] expire, waiting for re-issue
  LeaseOk(*ledger, "a", 1);  // re-issues p1; p2 still waits
  ledger->Shutdown();
  ledger->Shutdown();  // idempotent
  EXPECT_TRUE(ledger->CheckInvariants().ok()) << ledger->CheckInvariants();
  LedgerStats stats = ledger->Stats();
  EXPECT_EQ(stats.dropped.at("shutdown"), 2u);
  EXPECT_EQ(stats.in_flight(), 0u);
  EXPECT_EQ(stats.pending_retry, 1u);  // kept: part of the data position
  EXPECT_TRUE(stats.shut_down);
  EXPECT_THAT(LeaseOk(*ledger, "a", 4), IsEmpty());
  EXPECT_THAT(ledger->TryTakeBatch(), IsEmpty());
  EXPECT_EQ(PushOk(*ledger, "a", 2, Group(leases[0], 0)), std::make_tuple(0u, 2u, false));
  EXPECT_EQ(ledger->Stats().trajectories_dropped.at("shutdown"), 2u);
  EXPECT_EQ(PushOk(*ledger, "a", 2, {}), std::make_tuple(0u, 0u, true));
}

TEST_F(PromptLedgerTest, SourceErrorsLoseNoPrompt) {
  auto ledger = NewLedger(/*fail_at=*/3);
  const auto leases = LeaseOk(*ledger, "a", 5);  // p0..p2, then the source fails
  EXPECT_EQ(leases.size(), 3u);
  EXPECT_EQ(ledger->Lease("a", 1).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ledger->Stats().leased, 3u);
  EXPECT_TRUE(ledger->CheckInvariants().ok());
}

TEST_F(PromptLedgerTest, ConcurrentActorsKeepTheLedgerBalanced) {
  options_.samples_per_prompt = 1;
  options_.prompts_per_step = 4;
  auto ledger = NewLedger();
  std::vector<std::thread> actors;
  for (int a = 0; a < 4; ++a) {
    actors.emplace_back([&, a] {
      const std::string id = absl::StrCat("actor", a);
      for (uint64_t seq = 1; seq <= 200; ++seq) {
        absl::StatusOr<std::vector<v1::LeasedPrompt>> leases = ledger->Lease(id, 2);
        std::vector<v1::Trajectory> ts;
        for (const auto& lease : *leases) ts.push_back(Sample(lease, 0, 0));
        ASSERT_TRUE(ledger->Push(id, seq, ts).ok());
        ASSERT_TRUE(ledger->Push(id, seq, ts)->duplicate());
        if (seq % 50 == 0) clock_.Advance(absl::Seconds(1));
      }
    });
  }
  std::set<uint64_t> consumed;
  std::thread trainer([&] {
    for (int i = 0; i < 2000; ++i) {
      for (const PromptGroup& group : ledger->TryTakeBatch()) {
        EXPECT_TRUE(consumed.insert(group.lease_id).second) << "consumed twice";
      }
    }
  });
  for (auto& t : actors) t.join();
  trainer.join();
  while (true) {
    const auto batch = ledger->TryTakeBatch();
    if (batch.empty()) break;
    for (const PromptGroup& group : batch) EXPECT_TRUE(consumed.insert(group.lease_id).second);
  }
  ASSERT_TRUE(ledger->CheckInvariants().ok()) << ledger->CheckInvariants();
  const LedgerStats stats = ledger->Stats();
  EXPECT_EQ(stats.leased, 1600u);
  EXPECT_EQ(stats.trajectories_accepted, 1600u);
  EXPECT_EQ(stats.duplicate_pushes, 800u);
  EXPECT_EQ(stats.consumed, 1600u);
  EXPECT_EQ(consumed.size(), 1600u);
}

}  // namespace
}  // namespace pelican
