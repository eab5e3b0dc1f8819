// A seeded randomised test of the prompt ledger against a small reference model: many leases,
// pushes (good, retried, late, stale, malformed, for other actors' leases), clock jumps, version
// bumps, steps and checkpoint round trips, interleaved at random. After every operation the
// ledger's answers and counters must equal the model's and its invariants must hold.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>

#include "common/logging.h"
#include "learner/ledger_test_util.h"
#include "learner/prompt_ledger.h"

namespace pelican {
namespace {

using testing_util::CountingSource;
using testing_util::Sample;

constexpr uint32_t kN = 2;     // samples per prompt
constexpr uint32_t kStep = 3;  // prompts per step
constexpr uint32_t kMaxLag = 1;
constexpr int64_t kTimeoutMs = 10000;
constexpr uint32_t kCap = 4;  // prompts per lease call
const char* const kActors[] = {"a", "b", "c"};

// What the ledger should do, written as plainly as possible.
struct Model {
  struct Lease {
    std::string actor;
    v1::LeasedPrompt leased;
    std::set<uint32_t> samples;
    uint64_t min_version = UINT64_MAX;
  };
  std::map<uint64_t, Lease> open;
  std::deque<Lease> queued;
  std::deque<v1::LeasedPrompt> retry;  // prompts waiting for re-issue (ids/text reused)
  std::map<std::string, std::set<uint64_t>> seqs;
  uint64_t version = 0, next_id = 1, next_prompt = 0;
  uint64_t leased = 0, consumed = 0, accepted = 0;
  std::map<std::string, uint64_t> dropped, trajectories_dropped;
  std::set<std::string> consumed_texts;

  void Expire(int64_t now_ms) {
    for (auto it = open.begin(); it != open.end();) {
      if (now_ms > it->second.leased.deadline_unix_ms()) {
        ++dropped["expired"];
        retry.push_back(it->second.leased);
        it = open.erase(it);
      } else {
        ++it;
      }
    }
  }
  bool Stale(uint64_t v) const { return v < version && version - v > kMaxLag; }
};

class RandomLedgerTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  // The malformed pushes would log a warning each.
  RandomLedgerTest() { SetMinLogSeverity(LogSeverity::kError); }
  ~RandomLedgerTest() override { SetMinLogSeverity(LogSeverity::kInfo); }

  std::unique_ptr<PromptLedger> NewLedger() {
    PromptLedgerOptions options;
    options.samples_per_prompt = kN;
    options.prompts_per_step = kStep;
    options.max_policy_lag = kMaxLag;
    options.lease_timeout = absl::Milliseconds(kTimeoutMs);
    options.max_prompts_per_lease = kCap;
    return std::make_unique<PromptLedger>(options, std::make_unique<CountingSource>(), &clock_);
  }
  int64_t NowMs() const { return absl::ToUnixMillis(clock_.Now()); }

  void DoLease(const std::string& actor, uint32_t n) {
    model_.Expire(NowMs());
    auto got = ledger_->Lease(actor, n);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), std::min(n, kCap));
    for (const v1::LeasedPrompt& lease : *got) {
      std::string text;
      if (!model_.retry.empty()) {
        text = model_.retry.front().prompt_text();
        model_.retry.pop_front();
      } else {
        text = absl::StrCat("p", model_.next_prompt++);
      }
      ASSERT_EQ(lease.prompt_text(), text);
      ASSERT_EQ(lease.lease_id(), model_.next_id++);
      ASSERT_EQ(lease.deadline_unix_ms(), NowMs() + kTimeoutMs);
      model_.open[lease.lease_id()] = {actor, lease, {}, UINT64_MAX};
      ++model_.leased;
      issued_.push_back(lease);
    }
  }

  // A random trajectory: mostly a correct sample for a recent lease, sometimes a mistake.
  v1::Trajectory RandomTrajectory() {
    if (issued_.empty() || Pick(20) == 0) {
      v1::LeasedPrompt fake;
      fake.set_lease_id(model_.next_id + Pick(5));  // never issued (yet)
      return Sample(fake, 0, model_.version);
    }
    const size_t back = std::min<size_t>(issued_.size(), 12);
    const v1::LeasedPrompt& lease = issued_[issued_.size() - 1 - Pick(back)];
    const uint32_t index = Pick(30) == 0 ? kN : Pick(kN);
    uint64_t version = model_.version;
    const uint32_t roll = Pick(20);
    if (roll == 0) version = model_.version + 1;  // from the future
    if (roll >= 1 && roll <= 3) version = model_.version - std::min<uint64_t>(model_.version, roll);
    return Sample(lease, index, version);
  }

  void DoPush(const std::string& actor) {
    std::set<uint64_t>& seen = model_.seqs[actor];
    const uint64_t top = seen.empty() ? 0 : *seen.rbegin();
    uint64_t seq = top + 1;
    const uint32_t roll = Pick(10);
    if (roll == 0 && top > 0) seq = 1 + Pick(top);  // a retry, or a gap being filled
    if (roll == 1) seq = top + 2;                   // leaves a gap
    std::vector<v1::Trajectory> ts;
    if (Pick(2) == 0) {
      // What a healthy actor sends: the missing samples of some of its open leases.
      for (const auto& [id, lease] : model_.open) {
        if (lease.actor != actor || Pick(3) == 0) continue;
        for (uint32_t i = 0; i < kN; ++i) {
          if (!lease.samples.count(i)) ts.push_back(Sample(lease.leased, i, model_.version));
        }
      }
    }
    for (uint32_t i = Pick(4); i > 0; --i) ts.push_back(RandomTrajectory());

    auto got = ledger_->Push(actor, seq, ts);
    ASSERT_TRUE(got.ok()) << got.status();
    if (seen.count(seq)) {
      ASSERT_TRUE(got->duplicate());
      ASSERT_EQ(got->accepted() + got->dropped(), 0u);
      ++duplicates_;
      return;
    }
    ASSERT_FALSE(got->duplicate());
    seen.insert(seq);
    model_.Expire(NowMs());
    uint32_t accepted = 0, dropped = 0;
    std::map<uint64_t, std::string> ended_here;
    auto drop = [&](const std::string& reason) {
      ++model_.trajectories_dropped[reason];
      ++dropped;
    };
    for (const v1::Trajectory& t : ts) {
      const uint64_t id = t.lease_id();
      if (ended_here.count(id)) {
        drop(ended_here[id]);
        continue;
      }
      auto it = model_.open.find(id);
      if (it == model_.open.end() || it->second.actor != actor) {
        drop(it == model_.open.end() && id >= 1 && id < model_.next_id ? "late" : "unknown_lease");
        continue;
      }
      Model::Lease& lease = it->second;
      std::string reason;
      if (t.sample_index() >= kN || lease.samples.count(t.sample_index()) ||
          t.policy_version() > model_.version) {
        reason = "invalid";
        ++model_.dropped["error"];
      } else if (model_.Stale(t.policy_version())) {
        reason = "stale";
        ++model_.dropped["stale"];
      }
      if (!reason.empty()) {
        drop(reason);
        ended_here[id] = reason;
        model_.open.erase(it);
        continue;
      }
      ++accepted;
      ++model_.accepted;
      lease.samples.insert(t.sample_index());
      lease.min_version = std::min(lease.min_version, t.policy_version());
      if (lease.samples.size() == kN) {
        model_.queued.push_back(lease);
        model_.open.erase(it);
      }
    }
    ASSERT_EQ(got->accepted(), accepted);
    ASSERT_EQ(got->dropped(), dropped);
  }

  void DoTake() {
    model_.Expire(NowMs());
    std::deque<Model::Lease> fresh;
    for (Model::Lease& group : model_.queued) {
      if (model_.Stale(group.min_version)) {
        ++model_.dropped["stale"];
      } else {
        fresh.push_back(group);
      }
    }
    model_.queued = fresh;
    const std::vector<PromptGroup> batch = ledger_->TryTakeBatch();
    if (model_.queued.size() < kStep) {
      ASSERT_TRUE(batch.empty());
      return;
    }
    ASSERT_EQ(batch.size(), kStep);
    for (const PromptGroup& group : batch) {
      const Model::Lease& expected = model_.queued.front();
      ASSERT_EQ(group.lease_id, expected.leased.lease_id());
      ASSERT_EQ(group.prompt.text, expected.leased.prompt_text());
      ASSERT_TRUE(model_.consumed_texts.insert(group.prompt.text).second)
          << group.prompt.text << " consumed twice";
      ASSERT_EQ(group.samples.size(), kN);
      for (uint32_t i = 0; i < kN; ++i) {
        ASSERT_EQ(group.samples[i].sample_index(), i);
        ASSERT_EQ(group.samples[i].lease_id(), group.lease_id);
      }
      model_.queued.pop_front();
    }
    model_.consumed += kStep;
  }

  void DoCheckpoint() {
    const v1::LedgerState saved = ledger_->Save();
    auto restored = NewLedger();
    ASSERT_TRUE(restored->Restore(saved).ok());
    ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(restored->Save(), saved));
    ledger_ = std::move(restored);
  }

  void CheckAgainstModel() {
    ASSERT_TRUE(ledger_->CheckInvariants().ok()) << ledger_->CheckInvariants();
    const LedgerStats stats = ledger_->Stats();
    ASSERT_EQ(stats.leased, model_.leased);
    ASSERT_EQ(stats.consumed, model_.consumed);
    ASSERT_EQ(stats.dropped, model_.dropped);
    ASSERT_EQ(stats.open, model_.open.size());
    ASSERT_EQ(stats.queued, model_.queued.size());
    ASSERT_EQ(stats.pending_retry, model_.retry.size());
    ASSERT_EQ(stats.trajectories_accepted, model_.accepted);
    ASSERT_EQ(stats.trajectories_dropped, model_.trajectories_dropped);
    ASSERT_EQ(stats.duplicate_pushes, duplicates_);
    ASSERT_EQ(stats.forgotten_seqs, 0u);  // the model assumes the windows never forget
    ASSERT_EQ(stats.leased, stats.consumed + stats.dropped_total() + stats.in_flight());
  }

  uint32_t Pick(uint32_t bound) { return static_cast<uint32_t>(rng_() % bound); }

  ManualClock clock_;
  std::mt19937_64 rng_{GetParam()};
  std::unique_ptr<PromptLedger> ledger_ = NewLedger();
  Model model_;
  std::vector<v1::LeasedPrompt> issued_;
  uint64_t duplicates_ = 0;
};

TEST_P(RandomLedgerTest, MatchesTheModelAndBalancesAfterEveryOperation) {
  for (int op = 0; op < 20000; ++op) {
    const std::string actor = kActors[Pick(3)];
    const uint32_t roll = Pick(100);
    if (roll < 25) {
      DoLease(actor, Pick(6));
    } else if (roll < 65) {
      DoPush(actor);
    } else if (roll < 80) {
      clock_.Advance(absl::Milliseconds(Pick(4000)));
    } else if (roll < 85) {
      ledger_->SetPolicyVersion(++model_.version);
    } else if (roll < 97) {
      DoTake();
    } else if (roll < 99) {
      model_.Expire(NowMs());
      ledger_->ExpireLeases();
    } else {
      DoCheckpoint();
    }
    if (HasFatalFailure()) FAIL() << "at operation " << op << " (seed " << GetParam() << ")";
    CheckAgainstModel();
    if (HasFatalFailure()) FAIL() << "at operation " << op << " (seed " << GetParam() << ")";
  }
  // Every outcome happened at least once, so the run exercised what it claims to.
  for (const char* reason : {"expired", "stale", "error"}) {
    EXPECT_GT(model_.dropped[reason], 0u) << reason;
  }
  for (const char* reason : {"late", "unknown_lease", "invalid", "stale"}) {
    EXPECT_GT(model_.trajectories_dropped[reason], 0u) << reason;
  }
  EXPECT_GT(model_.consumed, 100u);
  EXPECT_GT(duplicates_, 0u);

  ledger_->Shutdown();
  model_.dropped["shutdown"] += model_.open.size() + model_.queued.size();
  model_.open.clear();
  model_.queued.clear();
  CheckAgainstModel();
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomLedgerTest, ::testing::Values(1, 2, 3, 20240601));

}  // namespace
}  // namespace pelican
