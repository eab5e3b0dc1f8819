// Save / Restore of the prompt ledger: a restored ledger must continue exactly as the saved one.
#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "learner/jsonl_prompt_source.h"
#include "learner/ledger_test_util.h"
#include "learner/prompt_ledger.h"

namespace pelican {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using testing_util::CountingSource;
using testing_util::Sample;

std::vector<int32_t> ByteEncoder(const std::string& text) {
  return std::vector<int32_t>(text.begin(), text.end());
}

class PromptLedgerStateTest : public ::testing::Test {
 protected:
  PromptLedgerStateTest() {
    options_.samples_per_prompt = 2;
    options_.prompts_per_step = 2;
    options_.max_policy_lag = 1;
    options_.lease_timeout = absl::Seconds(10);
    path_ = absl::StrCat(::testing::TempDir(), "/pelican_ledger_state_", getpid(), ".jsonl");
    std::string lines;
    for (int i = 0; i < 5; ++i)
      absl::StrAppend(&lines, "{\"prompt\": \"q", i, "\", \"answer\": ", i, "}\n");
    PELICAN_CHECK_OK(WriteFileAtomic(path_, lines));
  }

  std::unique_ptr<PromptLedger> NewJsonlLedger() {
    JsonlPromptSourceOptions source_options;
    source_options.seed = 7;
    auto source = JsonlPromptSource::Open(path_, source_options, ByteEncoder);
    PELICAN_CHECK_OK(source.status());
    return std::make_unique<PromptLedger>(options_, *std::move(source), &clock_);
  }

  // Restores from `state` the way a checkpoint would: through its bytes.
  std::unique_ptr<PromptLedger> RestoredFrom(const v1::LedgerState& state) {
    v1::LedgerState parsed;
    EXPECT_TRUE(parsed.ParseFromString(state.SerializeAsString()));
    auto ledger = NewJsonlLedger();
    const absl::Status status = ledger->Restore(parsed);
    EXPECT_TRUE(status.ok()) << status;
    return ledger;
  }

  PromptLedgerOptions options_;
  ManualClock clock_;
  std::string path_;
};

// Applies the same operations to two ledgers and checks every answer is the same.
class Lockstep {
 public:
  Lockstep(PromptLedger& a, PromptLedger& b) : a_(a), b_(b) {}

  std::vector<v1::LeasedPrompt> Lease(const std::string& actor, uint32_t n) {
    auto ra = a_.Lease(actor, n);
    auto rb = b_.Lease(actor, n);
    EXPECT_TRUE(ra.ok() && rb.ok());
    EXPECT_EQ(ra->size(), rb->size());
    for (size_t i = 0; i < std::min(ra->size(), rb->size()); ++i) {
      EXPECT_TRUE(MessageDifferencer::Equals((*ra)[i], (*rb)[i]))
          << (*ra)[i].DebugString() << " vs " << (*rb)[i].DebugString();
    }
    return *ra;
  }
  void Push(const std::string& actor, uint64_t seq, const std::vector<v1::Trajectory>& ts) {
    auto ra = a_.Push(actor, seq, ts);
    auto rb = b_.Push(actor, seq, ts);
    EXPECT_TRUE(ra.ok() && rb.ok());
    EXPECT_TRUE(MessageDifferencer::Equals(*ra, *rb)) << ra->DebugString() << rb->DebugString();
  }
  size_t Take() {
    auto ga = a_.TryTakeBatch();
    auto gb = b_.TryTakeBatch();
    EXPECT_EQ(ga.size(), gb.size());
    for (size_t i = 0; i < std::min(ga.size(), gb.size()); ++i) {
      EXPECT_EQ(ga[i].lease_id, gb[i].lease_id);
      EXPECT_EQ(ga[i].prompt, gb[i].prompt);
      EXPECT_EQ(ga[i].samples.size(), gb[i].samples.size());
    }
    return ga.size();
  }
  void SetPolicyVersion(uint64_t v) {
    a_.SetPolicyVersion(v);
    b_.SetPolicyVersion(v);
  }

 private:
  PromptLedger& a_;
  PromptLedger& b_;
};

std::vector<v1::Trajectory> Group(const v1::LeasedPrompt& lease, uint64_t version) {
  return {Sample(lease, 0, version), Sample(lease, 1, version)};
}

TEST_F(PromptLedgerStateTest, RestoredLedgerContinuesIdentically) {
  auto original = NewJsonlLedger();
  // Build up every kind of state: an expired prompt waiting for re-issue, a re-issued one, open
  // leases with and without samples, a queued group, counters of each kind, two push windows with
  // a gap, and a cursor in the second epoch.
  auto first = *original->Lease("a", 4);
  original->Push("a", 1, Group(first[0], 0)).IgnoreError();        // queued
  original->Push("a", 3, {Sample(first[1], 0, 0)}).IgnoreError();  // half a group; seq 2 missing
  clock_.Advance(absl::Seconds(11));                               // first[1..3] expire
  auto second = *original->Lease("b", 5);  // re-issues q-prompts of first[1..3], then 2 new
  original->Push("b", 1, {Sample(second[0], 0, 0), Sample(second[4], 1, 0)}).IgnoreError();
  original->SetPolicyVersion(1);
  original->Push("b", 2, Group(second[1], 0)).IgnoreError();       // queued
  original->Push("a", 4, {Sample(first[2], 0, 0)}).IgnoreError();  // late
  ASSERT_TRUE(original->Lease("b", 3).ok());
  ASSERT_TRUE(original->CheckInvariants().ok());
  const v1::LedgerState saved = original->Save();
  ASSERT_EQ(saved.cursor().epoch(), 1u);
  ASSERT_GT(saved.open_size(), 0);
  ASSERT_GT(saved.queued_size(), 0);

  auto restored = RestoredFrom(saved);
  ASSERT_TRUE(restored->CheckInvariants().ok());
  EXPECT_TRUE(MessageDifferencer::Equals(restored->Save(), saved));

  Lockstep both(*original, *restored);
  both.Push("a", 3, {});                         // duplicate in both
  both.Push("a", 2, {Sample(first[1], 1, 0)});   // the gap seq: first[1] expired, so late
  both.Push("b", 3, {Sample(second[0], 1, 1)});  // completes second[0]
  EXPECT_EQ(both.Take(), 2u);
  auto third = both.Lease("c", 4);
  clock_.Advance(absl::Seconds(5));
  both.SetPolicyVersion(2);
  both.Push("c", 1, Group(third[0], 2));
  both.Push("c", 2, Group(third[1], 1));
  both.Push("b", 4, Group(second[4], 0));  // second[4] got sample 1 at version 0: stale now
  clock_.Advance(absl::Seconds(6));        // second's and the 3-lease batch expire
  auto fourth = both.Lease("c", 8);        // re-issues, then new prompts across the epoch end
  for (size_t i = 0; i < fourth.size(); ++i) both.Push("c", 3 + i, Group(fourth[i], 2));
  while (both.Take() > 0) {
  }

  EXPECT_TRUE(MessageDifferencer::Equals(original->Save(), restored->Save()));
  const LedgerStats stats = restored->Stats();
  EXPECT_GT(stats.consumed, 4u);
  EXPECT_GT(stats.dropped.at("expired"), 0u);
  EXPECT_GT(stats.dropped.at("stale"), 0u);
  EXPECT_TRUE(restored->CheckInvariants().ok());
}

TEST_F(PromptLedgerStateTest, OpenLeasesSurviveRestoreAndExpireIfOverdue) {
  auto original = NewJsonlLedger();
  auto leases = *original->Lease("a", 2);
  auto restored = RestoredFrom(original->Save());
  // An actor that outlived the learner's restart completes its lease.
  auto r = restored->Push("a", 1, Group(leases[0], 0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted(), 2u);
  // The other lease is overdue after the restart: it is re-queued and handed out again.
  clock_.Advance(absl::Seconds(11));
  auto again = *restored->Lease("b", 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].prompt_text(), leases[1].prompt_text());
  EXPECT_EQ(again[0].lease_id(), 3u);
  EXPECT_EQ(restored->Stats().dropped.at("expired"), 1u);
}

TEST_F(PromptLedgerStateTest, RestoreRefusesAUsedLedgerOrForeignState) {
  auto original = NewJsonlLedger();
  auto leases = *original->Lease("a", 2);
  original->Push("a", 1, Group(leases[0], 0)).IgnoreError();
  const v1::LedgerState saved = original->Save();

  EXPECT_EQ(original->Restore(saved).code(), absl::StatusCode::kFailedPrecondition);

  options_.samples_per_prompt = 4;
  EXPECT_EQ(NewJsonlLedger()->Restore(saved).code(), absl::StatusCode::kFailedPrecondition);
  options_.samples_per_prompt = 2;

  PromptLedger counting(options_, std::make_unique<CountingSource>(), &clock_);
  EXPECT_EQ(counting.Restore(saved).code(), absl::StatusCode::kFailedPrecondition);  // cursor

  auto fresh = NewJsonlLedger();
  v1::LedgerState tampered = saved;
  tampered.set_consumed(tampered.consumed() + 1);  // no longer balances
  EXPECT_EQ(fresh->Restore(tampered).code(), absl::StatusCode::kInvalidArgument);
  tampered = saved;
  tampered.mutable_open(0)->set_lease_id(tampered.queued(0).lease_id());  // a repeated id
  EXPECT_EQ(fresh->Restore(tampered).code(), absl::StatusCode::kInvalidArgument);
  tampered = saved;
  tampered.mutable_queued(0)->mutable_samples()->RemoveLast();  // an incomplete "complete" group
  EXPECT_EQ(fresh->Restore(tampered).code(), absl::StatusCode::kInvalidArgument);
  tampered = saved;
  tampered.set_format(99);
  EXPECT_EQ(fresh->Restore(tampered).code(), absl::StatusCode::kFailedPrecondition);

  // Refusals left the fresh ledger untouched, so the real state still restores.
  EXPECT_TRUE(fresh->Restore(saved).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(fresh->Save(), saved));
}

TEST_F(PromptLedgerStateTest, HistogramFoldsWhenMaxPolicyLagChanges) {
  auto original = NewJsonlLedger();  // max_policy_lag 1: buckets {0, 1, >1}
  original->SetPolicyVersion(3);
  auto leases = *original->Lease("a", 3);
  original
      ->Push("a", 1, {Sample(leases[0], 0, 3), Sample(leases[1], 0, 2), Sample(leases[2], 0, 0)})
      .IgnoreError();
  EXPECT_THAT(original->Stats().lag_histogram, ::testing::ElementsAre(1, 1, 1));
  options_.max_policy_lag = 0;  // buckets {0, >0}
  auto restored = NewJsonlLedger();
  ASSERT_TRUE(restored->Restore(original->Save()).ok());
  EXPECT_THAT(restored->Stats().lag_histogram, ::testing::ElementsAre(1, 2));
}

}  // namespace
}  // namespace pelican
