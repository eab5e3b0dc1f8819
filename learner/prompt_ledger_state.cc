// PromptLedger::Save / Restore: the ledger's part of a checkpoint (proto/pelican/v1/
// learner_state.proto). Restore checks the state as carefully as network input: a checkpoint
// that does not balance is refused rather than trained on.
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "learner/prompt_ledger.h"

namespace pelican {
namespace {

constexpr uint32_t kLedgerStateFormat = 1;

absl::Status Corrupt(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("inconsistent ledger state: ", what));
}

}  // namespace

v1::LeaseRecord PromptLedger::ToRecord(const OpenLease& lease) {
  v1::LeaseRecord record;
  record.set_lease_id(lease.id);
  record.set_actor_id(lease.actor_id);
  *record.mutable_prompt() = pelican::ToRecord(lease.prompt);
  record.set_deadline_unix_ns(absl::ToUnixNanos(lease.deadline));
  for (const auto& [index, t] : lease.samples) *record.add_samples() = t;
  return record;
}

v1::LedgerState PromptLedger::Save() const {
  absl::MutexLock lock(&mu_);
  v1::LedgerState state;
  state.set_format(kLedgerStateFormat);
  state.set_samples_per_prompt(options_.samples_per_prompt);
  state.set_policy_version(policy_version_);
  *state.mutable_cursor() = source_->Cursor();
  state.set_next_lease_id(next_lease_id_);
  for (const Prompt& prompt : retry_) *state.add_retry() = pelican::ToRecord(prompt);
  for (const auto& [id, lease] : open_) *state.add_open() = ToRecord(lease);
  for (const OpenLease& group : queued_) *state.add_queued() = ToRecord(group);
  for (const auto& [actor, window] : windows_) {
    v1::PushWindowRecord& record = *state.add_windows();
    record = window.ToRecord();
    record.set_actor_id(actor);
  }
  state.set_leased(leased_);
  state.set_consumed(consumed_);
  state.mutable_dropped()->insert(dropped_.begin(), dropped_.end());
  state.set_drawn(drawn_);
  state.set_reissued(reissued_);
  state.set_pushes(pushes_);
  state.set_duplicate_pushes(duplicate_pushes_);
  state.set_trajectories_accepted(trajectories_accepted_);
  state.mutable_trajectories_dropped()->insert(trajectories_dropped_.begin(),
                                               trajectories_dropped_.end());
  state.mutable_lag_histogram()->Add(lag_histogram_.begin(), lag_histogram_.end());
  state.set_shut_down(shut_down_);
  return state;
}

bool PromptLedger::IsFresh() const {
  return leased_ == 0 && next_lease_id_ == 1 && pushes_ == 0 && duplicate_pushes_ == 0 &&
         windows_.empty() && retry_.empty() && !shut_down_;
}

absl::Status PromptLedger::Restore(const v1::LedgerState& state) {
  absl::MutexLock lock(&mu_);
  if (!IsFresh()) {
    return absl::FailedPreconditionError("Restore: the ledger has been used already");
  }
  if (state.format() != kLedgerStateFormat) {
    return absl::FailedPreconditionError(absl::StrCat("ledger state format ", state.format(),
                                                      "; this build reads ", kLedgerStateFormat));
  }
  if (state.samples_per_prompt() != options_.samples_per_prompt) {
    return absl::FailedPreconditionError(
        absl::StrCat("the checkpoint's ledger ran with ", state.samples_per_prompt(),
                     " samples per prompt, this run with ", options_.samples_per_prompt));
  }

  // Rebuild everything in locals; commit only when all of it checks out.
  std::set<uint64_t> ids;
  const uint32_t n = options_.samples_per_prompt;
  auto to_lease = [&](const v1::LeaseRecord& record, bool complete) -> absl::StatusOr<OpenLease> {
    const uint64_t id = record.lease_id();
    if (id == 0 || id >= state.next_lease_id() || !ids.insert(id).second) {
      return Corrupt(absl::StrCat("lease id ", id, " is repeated or out of range"));
    }
    OpenLease lease;
    lease.id = id;
    lease.actor_id = record.actor_id();
    lease.prompt = FromRecord(record.prompt());
    lease.deadline = absl::FromUnixNanos(record.deadline_unix_ns());
    for (const v1::Trajectory& t : record.samples()) {
      if (t.sample_index() >= n || !lease.samples.emplace(t.sample_index(), t).second) {
        return Corrupt(absl::StrCat("lease ", id, " has a bad sample_index ", t.sample_index()));
      }
    }
    if (complete ? lease.samples.size() != n : lease.samples.size() >= n) {
      return Corrupt(absl::StrCat("lease ", id, " has ", lease.samples.size(), " of ", n,
                                  " samples but is ", complete ? "queued" : "open"));
    }
    return lease;
  };
  std::map<uint64_t, OpenLease> open;
  for (const v1::LeaseRecord& record : state.open()) {
    ASSIGN_OR_RETURN(OpenLease lease, to_lease(record, /*complete=*/false));
    open.emplace(lease.id, std::move(lease));
  }
  std::deque<OpenLease> queued;
  for (const v1::LeaseRecord& record : state.queued()) {
    ASSIGN_OR_RETURN(OpenLease lease, to_lease(record, /*complete=*/true));
    queued.push_back(std::move(lease));
  }
  std::map<std::string, PushWindow> windows;
  for (const v1::PushWindowRecord& record : state.windows()) {
    ASSIGN_OR_RETURN(PushWindow window, PushWindow::FromRecord(record, options_.push_window));
    if (record.actor_id().empty() || !windows.emplace(record.actor_id(), window).second) {
      return Corrupt(absl::StrCat("push window of actor \"", record.actor_id(), "\" repeated"));
    }
  }

  uint64_t dropped = 0;
  for (const auto& [reason, count] : state.dropped()) dropped += count;
  const uint64_t in_flight = open.size() + queued.size();
  if (state.leased() != state.consumed() + dropped + in_flight ||
      state.leased() != state.drawn() + state.reissued()) {
    return Corrupt(absl::StrCat("leased ", state.leased(), ", consumed ", state.consumed(),
                                ", dropped ", dropped, ", in flight ", in_flight, ", drawn ",
                                state.drawn(), ", reissued ", state.reissued()));
  }
  const auto expired = state.dropped().find(drop_reason::kExpired);
  const uint64_t expired_count = expired == state.dropped().end() ? 0 : expired->second;
  if (expired_count != state.reissued() + static_cast<uint64_t>(state.retry_size())) {
    return Corrupt(absl::StrCat("expired ", expired_count, " != reissued ", state.reissued(),
                                " + retry ", state.retry_size()));
  }
  if (state.shut_down() && in_flight != 0) return Corrupt("leases in flight after shutdown");

  // A different max_policy_lag changes the histogram's shape: keep exact lags that still have a
  // bucket, fold the rest into the overflow bucket.
  std::vector<uint64_t> histogram(options_.max_policy_lag + 2, 0);
  const int saved_buckets = state.lag_histogram_size();
  for (int i = 0; i < saved_buckets; ++i) {
    const bool saved_overflow = i == saved_buckets - 1;
    const size_t bucket =
        saved_overflow ? histogram.size() - 1 : std::min<size_t>(i, histogram.size() - 1);
    histogram[bucket] += state.lag_histogram(i);
  }

  // The source last: if it refuses the cursor, nothing has changed.
  RETURN_IF_ERROR(Annotate(source_->Restore(state.cursor()), "restoring the prompt cursor"));

  policy_version_ = state.policy_version();
  next_lease_id_ = state.next_lease_id();
  for (const v1::PromptRecord& record : state.retry()) retry_.push_back(FromRecord(record));
  open_ = std::move(open);
  queued_ = std::move(queued);
  windows_ = std::move(windows);
  shut_down_ = state.shut_down();
  leased_ = state.leased();
  consumed_ = state.consumed();
  dropped_.insert(state.dropped().begin(), state.dropped().end());
  drawn_ = state.drawn();
  reissued_ = state.reissued();
  pushes_ = state.pushes();
  duplicate_pushes_ = state.duplicate_pushes();
  trajectories_accepted_ = state.trajectories_accepted();
  trajectories_dropped_.insert(state.trajectories_dropped().begin(),
                               state.trajectories_dropped().end());
  lag_histogram_ = std::move(histogram);
  return absl::OkStatus();
}

}  // namespace pelican
