#include "learner/prompt_ledger.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace pelican {

PromptLedgerOptions PromptLedgerOptions::FromConfig(const v1::RunConfig& config) {
  PromptLedgerOptions options;
  options.samples_per_prompt = config.actors().sampling().n();
  options.prompts_per_step = config.learner().prompts_per_step();
  options.max_policy_lag = config.learner().max_policy_lag();
  options.lease_timeout = absl::Seconds(config.learner().lease_timeout_s());
  options.max_prompts_per_lease = config.actors().prompts_per_batch();
  // Enough for the step being trained, the next one being generated, and one actor batch of
  // slack; more would only be generated to go stale.
  options.max_outstanding =
      2 * options.prompts_per_step + std::max<uint32_t>(options.max_prompts_per_lease, 1);
  return options;
}

uint64_t LedgerStats::dropped_total() const {
  uint64_t total = 0;
  for (const auto& [reason, count] : dropped) total += count;
  return total;
}

v1::Ledger LedgerStats::ToProto() const {
  v1::Ledger ledger;
  ledger.set_leased(leased);
  ledger.set_consumed(consumed);
  for (const auto& [reason, count] : dropped) (*ledger.mutable_dropped())[reason] = count;
  ledger.set_in_flight(in_flight());
  return ledger;
}

PromptLedger::PromptLedger(const PromptLedgerOptions& options, std::unique_ptr<PromptSource> source,
                           Clock* clock)
    : options_(options), clock_(clock), source_(std::move(source)) {
  PELICAN_CHECK(options.samples_per_prompt >= 1 && options.prompts_per_step >= 1 &&
                options.max_prompts_per_lease >= 1 && options.push_window >= 1 &&
                options.lease_timeout > absl::ZeroDuration())
      << "invalid PromptLedgerOptions";
  PELICAN_CHECK(source_ != nullptr && clock_ != nullptr);
  lag_histogram_.assign(options.max_policy_lag + 2, 0);
}

absl::StatusOr<std::vector<v1::LeasedPrompt>> PromptLedger::Lease(const std::string& actor_id,
                                                                  uint32_t n) {
  if (actor_id.empty()) return absl::InvalidArgumentError("Lease: empty actor_id");
  absl::MutexLock lock(&mu_);
  std::vector<v1::LeasedPrompt> leased;
  if (shut_down_) return leased;
  const absl::Time now = clock_->Now();
  ExpireLocked(now);
  const absl::Time deadline = now + options_.lease_timeout;
  n = std::min(n, options_.max_prompts_per_lease);
  // Backpressure: actors may not run further ahead of the trainer than max_outstanding prompts.
  const size_t outstanding = open_.size() + queued_.size();
  if (options_.max_outstanding > 0) {
    n = outstanding >= options_.max_outstanding
            ? 0
            : std::min<uint32_t>(n, static_cast<uint32_t>(options_.max_outstanding - outstanding));
  }
  for (uint32_t i = 0; i < n; ++i) {
    Prompt prompt;
    if (!retry_.empty()) {
      prompt = std::move(retry_.front());
      retry_.pop_front();
      ++reissued_;
    } else {
      absl::StatusOr<Prompt> next = source_->Next();
      if (!next.ok()) {
        if (leased.empty()) return next.status();
        PELICAN_LOG(WARNING) << "prompt source failed after " << leased.size()
                             << " prompts of a lease: " << next.status();
        break;
      }
      prompt = *std::move(next);
      ++drawn_;
    }
    OpenLease lease;
    lease.id = next_lease_id_++;
    lease.actor_id = actor_id;
    lease.prompt = std::move(prompt);
    lease.deadline = deadline;
    ++leased_;

    v1::LeasedPrompt& out = leased.emplace_back();
    out.set_lease_id(lease.id);
    out.mutable_prompt_ids()->Add(lease.prompt.token_ids.begin(), lease.prompt.token_ids.end());
    out.set_prompt_text(lease.prompt.text);
    out.mutable_metadata()->insert(lease.prompt.metadata.begin(), lease.prompt.metadata.end());
    out.set_deadline_unix_ms(absl::ToUnixMillis(deadline));
    open_.emplace(lease.id, std::move(lease));
  }
  return leased;
}

absl::StatusOr<v1::PushRolloutsResponse> PromptLedger::Push(
    const std::string& actor_id, uint64_t batch_seq, std::vector<v1::Trajectory> trajectories) {
  if (actor_id.empty()) return absl::InvalidArgumentError("PushRollouts: empty actor_id");
  if (batch_seq == 0) return absl::InvalidArgumentError("PushRollouts: batch_seq starts at 1");
  absl::MutexLock lock(&mu_);
  v1::PushRolloutsResponse response;
  PushWindow& window =
      windows_.try_emplace(actor_id, PushWindow(options_.push_window)).first->second;
  // Seqs advance by one per push; one far ahead (a buggy or hostile client, 2^64 - 1 say) would
  // make the window forget every seq below it, and every later valid push would read as a
  // duplicate.
  if (batch_seq > window.top() && batch_seq - window.top() > options_.push_window) {
    return absl::InvalidArgumentError(
        absl::StrCat("PushRollouts: batch_seq ", batch_seq, " of actor '", actor_id,
                     "' is more than ", options_.push_window, " ahead of its highest so far (",
                     window.top(), "); an actor numbers its pushes 1, 2, 3, ..."));
  }
  if (window.Contains(batch_seq)) {
    ++duplicate_pushes_;
    response.set_duplicate(true);
    return response;
  }
  window.Insert(batch_seq);
  ++pushes_;

  uint32_t accepted = 0;
  uint32_t dropped = 0;
  auto drop = [&](const char* reason) {
    ++trajectories_dropped_[reason];
    ++dropped;
  };
  if (shut_down_) {
    for (size_t i = 0; i < trajectories.size(); ++i) drop(drop_reason::kShutdown);
    response.set_dropped(dropped);
    return response;
  }
  ExpireLocked(clock_->Now());

  // Leases ended by an earlier trajectory of this push, with that trajectory's reason.
  std::map<uint64_t, const char*> ended_here;
  for (v1::Trajectory& t : trajectories) {
    RecordLag(t.policy_version());
    const uint64_t lease_id = t.lease_id();
    if (auto ended = ended_here.find(lease_id); ended != ended_here.end()) {
      drop(ended->second);
      continue;
    }
    auto it = open_.find(lease_id);
    if (it == open_.end() || it->second.actor_id != actor_id) {
      const bool issued_and_gone = it == open_.end() && lease_id >= 1 && lease_id < next_lease_id_;
      drop(issued_and_gone ? drop_reason::kLate : drop_reason::kUnknown);
      continue;
    }
    OpenLease& lease = it->second;
    const char* trajectory_reason = nullptr;
    const char* lease_reason = nullptr;
    if (std::string violation = ContractViolation(t, actor_id, lease); !violation.empty()) {
      PELICAN_LOG(WARNING) << "actor " << actor_id << " push " << batch_seq << ": lease "
                           << lease_id << " dropped: " << violation;
      trajectory_reason = drop_reason::kInvalid;
      lease_reason = drop_reason::kError;
    } else if (IsStale(t.policy_version())) {
      trajectory_reason = drop_reason::kStale;
      lease_reason = drop_reason::kStale;
    }
    if (trajectory_reason != nullptr) {
      drop(trajectory_reason);
      ++dropped_[lease_reason];
      ended_here[lease_id] = trajectory_reason;
      open_.erase(it);
      continue;
    }
    ++accepted;
    ++trajectories_accepted_;
    const uint32_t index = t.sample_index();
    lease.samples.emplace(index, std::move(t));
    if (lease.samples.size() == options_.samples_per_prompt) {
      queued_.push_back(std::move(lease));
      open_.erase(it);
    }
  }
  response.set_accepted(accepted);
  response.set_dropped(dropped);
  return response;
}

std::vector<PromptGroup> PromptLedger::TryTakeBatch() {
  absl::MutexLock lock(&mu_);
  std::vector<PromptGroup> batch;
  if (shut_down_) return batch;
  ExpireLocked(clock_->Now());
  std::deque<OpenLease> fresh;
  for (OpenLease& group : queued_) {
    uint64_t oldest = policy_version_;
    for (const auto& [index, t] : group.samples) oldest = std::min(oldest, t.policy_version());
    if (IsStale(oldest)) {
      ++dropped_[drop_reason::kStale];
    } else {
      fresh.push_back(std::move(group));
    }
  }
  queued_ = std::move(fresh);
  if (queued_.size() < options_.prompts_per_step) return batch;

  batch.reserve(options_.prompts_per_step);
  for (uint32_t i = 0; i < options_.prompts_per_step; ++i) {
    OpenLease& group = queued_.front();
    PromptGroup& out = batch.emplace_back();
    out.lease_id = group.id;
    out.actor_id = std::move(group.actor_id);
    out.prompt = std::move(group.prompt);
    out.samples.reserve(group.samples.size());
    for (auto& [index, t] : group.samples) out.samples.push_back(std::move(t));
    queued_.pop_front();
  }
  consumed_ += options_.prompts_per_step;
  return batch;
}

void PromptLedger::ExpireLeases() {
  absl::MutexLock lock(&mu_);
  ExpireLocked(clock_->Now());
}

void PromptLedger::SetPolicyVersion(uint64_t version) {
  absl::MutexLock lock(&mu_);
  PELICAN_CHECK(version >= policy_version_)
      << "policy version went back from " << policy_version_ << " to " << version;
  policy_version_ = version;
}

uint64_t PromptLedger::policy_version() const {
  absl::MutexLock lock(&mu_);
  return policy_version_;
}

void PromptLedger::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  dropped_[drop_reason::kShutdown] += open_.size() + queued_.size();
  open_.clear();
  queued_.clear();
}

LedgerStats PromptLedger::Stats() const {
  absl::MutexLock lock(&mu_);
  LedgerStats stats;
  stats.leased = leased_;
  stats.consumed = consumed_;
  stats.dropped = dropped_;
  stats.open = open_.size();
  stats.queued = queued_.size();
  stats.drawn = drawn_;
  stats.reissued = reissued_;
  stats.pending_retry = retry_.size();
  stats.pushes = pushes_;
  stats.duplicate_pushes = duplicate_pushes_;
  stats.trajectories_accepted = trajectories_accepted_;
  stats.trajectories_dropped = trajectories_dropped_;
  for (const auto& [actor, window] : windows_) stats.forgotten_seqs += window.forgotten();
  stats.lag_histogram = lag_histogram_;
  stats.policy_version = policy_version_;
  stats.shut_down = shut_down_;
  return stats;
}

absl::Status PromptLedger::CheckInvariants() const {
  absl::MutexLock lock(&mu_);
  uint64_t dropped = 0;
  for (const auto& [reason, count] : dropped_) dropped += count;
  const uint64_t in_flight = open_.size() + queued_.size();
  if (leased_ != consumed_ + dropped + in_flight) {
    return absl::InternalError(absl::StrCat("ledger out of balance: leased ", leased_,
                                            " != consumed ", consumed_, " + dropped ", dropped,
                                            " + in flight ", in_flight));
  }
  if (leased_ != drawn_ + reissued_) {
    return absl::InternalError(
        absl::StrCat("leased ", leased_, " != drawn ", drawn_, " + reissued ", reissued_));
  }
  const auto expired = dropped_.find(drop_reason::kExpired);
  const uint64_t expired_count = expired == dropped_.end() ? 0 : expired->second;
  if (expired_count != reissued_ + retry_.size()) {
    return absl::InternalError(absl::StrCat("expired ", expired_count, " != reissued ", reissued_,
                                            " + waiting for re-issue ", retry_.size()));
  }
  for (const auto& [id, lease] : open_) {
    if (id == 0 || id >= next_lease_id_ || lease.samples.size() >= options_.samples_per_prompt) {
      return absl::InternalError(absl::StrCat("open lease ", id, " has ", lease.samples.size(),
                                              " samples (next id ", next_lease_id_, ")"));
    }
  }
  for (const OpenLease& group : queued_) {
    if (group.samples.size() != options_.samples_per_prompt ||
        group.samples.rbegin()->first != options_.samples_per_prompt - 1) {
      return absl::InternalError(absl::StrCat("queued group ", group.id, " is not complete"));
    }
  }
  if (shut_down_ && in_flight != 0) {
    return absl::InternalError("leases in flight after shutdown");
  }
  return absl::OkStatus();
}

void PromptLedger::ExpireLocked(absl::Time now) {
  for (auto it = open_.begin(); it != open_.end();) {
    if (now > it->second.deadline) {
      ++dropped_[drop_reason::kExpired];
      retry_.push_back(std::move(it->second.prompt));
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string PromptLedger::ContractViolation(const v1::Trajectory& t, const std::string& actor_id,
                                            const OpenLease& lease) const {
  if (t.sample_index() >= options_.samples_per_prompt) {
    return absl::StrCat("sample_index ", t.sample_index(), " outside a group of ",
                        options_.samples_per_prompt);
  }
  if (lease.samples.count(t.sample_index()) > 0) {
    return absl::StrCat("sample_index ", t.sample_index(), " arrived twice");
  }
  if (!std::equal(t.prompt_ids().begin(), t.prompt_ids().end(), lease.prompt.token_ids.begin(),
                  lease.prompt.token_ids.end())) {
    return "prompt_ids differ from the leased prompt";
  }
  if (t.policy_version() > policy_version_) {
    return absl::StrCat("policy_version ", t.policy_version(), " is ahead of the learner's ",
                        policy_version_);
  }
  if (!t.actor_id().empty() && t.actor_id() != actor_id) {
    return absl::StrCat("trajectory actor_id \"", t.actor_id(), "\" differs from the pusher");
  }
  if (t.logprobs_size() != t.completion_ids_size()) {
    return absl::StrCat(t.logprobs_size(), " logprobs for ", t.completion_ids_size(),
                        " completion ids");
  }
  return "";
}

void PromptLedger::RecordLag(uint64_t sample_version) {
  if (sample_version > policy_version_) return;  // not a lag; the contract check reports it
  const uint64_t lag = policy_version_ - sample_version;
  const uint64_t overflow = lag_histogram_.size() - 1;
  ++lag_histogram_[std::min(lag, overflow)];
}

bool PromptLedger::IsStale(uint64_t sample_version) const {
  return sample_version < policy_version_ &&
         policy_version_ - sample_version > options_.max_policy_lag;
}

}  // namespace pelican
