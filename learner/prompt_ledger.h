// The learner's prompt ledger: hands prompts to actors under leases, takes their trajectories back
// exactly once, and queues complete groups for training. It is what lets actors be stateless: the
// data position, the open leases and the idempotency windows all live here (and in checkpoints).
//
//   PromptSource ─► Lease ─► actor ─► Push ─► (group complete) ─► training queue ─► TryTakeBatch
//                     ▲                 │
//                     └─ expired lease ─┘ (prompt re-queued, handed out again first)
//
// The unit of account is a lease: one prompt handed to one actor under one lease id, answered by
// `samples_per_prompt` trajectories (sample_index 0..n-1) that together form a group.
//
// Every lease ends in exactly one final state, and at every moment
//     leased = consumed + Σ dropped[reason] + in_flight,      in_flight = open + queued
// where
//   leased           leases issued; a re-issue of an expired lease's prompt is a new lease (new id)
//   consumed         complete groups taken by a training step (TryTakeBatch)
//   dropped[reason]  "expired"  its deadline passed before all n samples arrived; the samples that
//                               did arrive are discarded and the prompt goes back to the retry
//                               queue, to be handed out again (under a new lease) before any new
//                               prompt. The lease id is never reused, so a late push for it finds
//                               no open lease and is dropped: nothing is counted twice.
//                    "stale"    a sample arrived with policy_version more than max_policy_lag
//                    behind
//                               the learner, or a queued group fell that far behind before a step
//                               took it. The prompt is not re-queued (fresh data is cheaper than
//                               waiting); it comes round again next epoch.
//                    "error"    a sample broke the lease's contract (see Push); not re-queued, so
//                    an
//                               actor bug cannot loop a prompt forever.
//                    "shutdown" open or queued when Shutdown() was called.
//   open             leases waiting for samples (deadline applies)
//   queued           complete groups waiting for a step (deadline no longer applies)
// and, because expired prompts are re-issued rather than lost,
//     leased = drawn + reissued,   dropped["expired"] = reissued + pending_retry,
// so every prompt drawn from the source is consumed, dropped for a reason other than "expired",
// in flight, or waiting in the retry queue.
//
// Deadlines are checked lazily: Lease, Push, TryTakeBatch and ExpireLeases first expire every open
// lease whose deadline is before the clock's now (in lease id order). Stats and Save observe
// without expiring.
//
// Thread safety: all methods are thread-safe (one mutex; none blocks).
#ifndef PELICAN_LEARNER_PROMPT_LEDGER_H_
#define PELICAN_LEARNER_PROMPT_LEDGER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "learner/prompt_source.h"
#include "learner/push_window.h"
#include "pelican/v1/config.pb.h"
#include "pelican/v1/learner.pb.h"
#include "pelican/v1/learner_state.pb.h"
#include "pelican/v1/rollout.pb.h"

namespace pelican {

// Why a lease or a trajectory was dropped. Lease reasons are the keys of LedgerStats::dropped (and
// of the wire Ledger message); trajectory reasons those of LedgerStats::trajectories_dropped.
namespace drop_reason {
// Leases (and the trajectories that ended them).
inline constexpr char kStale[] = "stale";
inline constexpr char kError[] = "error";
inline constexpr char kExpired[] = "expired";
inline constexpr char kShutdown[] = "shutdown";
// Trajectories only.
inline constexpr char kInvalid[] = "invalid";  // broke the lease's contract; ended it with "error"
inline constexpr char kLate[] = "late";        // its lease was issued but is no longer open
inline constexpr char kUnknown[] = "unknown_lease";  // never issued, or open under another actor
}  // namespace drop_reason

struct PromptLedgerOptions {
  // Trajectories per lease, the group size of GRPO / RLOO (actors.sampling.n).
  uint32_t samples_per_prompt = 1;
  // Complete groups one training step takes (learner.prompts_per_step).
  uint32_t prompts_per_step = 16;
  // Samples whose policy_version lags the learner's by more than this are dropped.
  uint32_t max_policy_lag = 2;
  absl::Duration lease_timeout = absl::Seconds(120);
  // Most prompts one Lease call hands out (actors.prompts_per_batch).
  uint32_t max_prompts_per_lease = 65536;
  // Most prompts open or queued at once (0 = no limit): Lease hands out only what keeps the
  // total at or below this, so actors wait instead of generating samples that would go stale.
  size_t max_outstanding = 0;
  // Most gaps each actor's push window remembers (see PushWindow).
  size_t push_window = PushWindow::kDefaultMaxMissing;

  static PromptLedgerOptions FromConfig(const v1::RunConfig& config);
};

// One complete group as a training step takes it.
struct PromptGroup {
  uint64_t lease_id = 0;
  std::string actor_id;
  Prompt prompt;
  // samples_per_prompt trajectories, samples[i].sample_index() == i.
  std::vector<v1::Trajectory> samples;
};

// A snapshot of the ledger's counters (see the file comment for what each means).
struct LedgerStats {
  uint64_t leased = 0;
  uint64_t consumed = 0;
  std::map<std::string, uint64_t> dropped;
  uint64_t open = 0;
  uint64_t queued = 0;

  uint64_t drawn = 0;          // prompts taken from the source
  uint64_t reissued = 0;       // leases issued for re-queued (expired) prompts
  uint64_t pending_retry = 0;  // expired prompts waiting to be handed out again

  // Pushes, counted on arrival. A duplicate push counts only in duplicate_pushes.
  uint64_t pushes = 0;
  uint64_t duplicate_pushes = 0;
  uint64_t trajectories_accepted = 0;
  std::map<std::string, uint64_t> trajectories_dropped;
  // Push seqs forgotten by the windows' bound, summed over actors (see PushWindow).
  uint64_t forgotten_seqs = 0;

  // Observed policy lag (learner version minus the sample's) of every trajectory pushed, at
  // arrival: lag_histogram[i] counts lag i for i <= max_policy_lag; the last entry counts every
  // lag above it (those samples were dropped as stale). Size max_policy_lag + 2.
  std::vector<uint64_t> lag_histogram;

  uint64_t policy_version = 0;
  bool shut_down = false;

  uint64_t in_flight() const { return open + queued; }
  uint64_t dropped_total() const;
  // The wire form served by GetStatus.
  v1::Ledger ToProto() const;
};

class PromptLedger {
 public:
  // `clock` is not owned and must outlive the ledger.
  // REQUIRES: options.samples_per_prompt, prompts_per_step, max_prompts_per_lease >= 1,
  // lease_timeout > 0, push_window >= 1; source and clock non-null.
  PromptLedger(const PromptLedgerOptions& options, std::unique_ptr<PromptSource> source,
               Clock* clock);
  PromptLedger(const PromptLedger&) = delete;
  PromptLedger& operator=(const PromptLedger&) = delete;

  // Hands `actor_id` up to min(n, max_prompts_per_lease) prompts, each under a new lease expiring
  // lease_timeout from now: first the prompts of expired leases, in the order they expired, then
  // new ones from the source; fewer (possibly none) when max_outstanding prompts are open or
  // queued. Empty after Shutdown(). INVALID_ARGUMENT for an empty actor_id; the
  // source's error when it fails before any prompt was leased (when it fails later, the prompts
  // leased so far are returned and the error comes back on the next call).
  absl::StatusOr<std::vector<v1::LeasedPrompt>> Lease(const std::string& actor_id, uint32_t n);

  // Takes in one push. Idempotent on (actor_id, batch_seq): when this actor's push window already
  // holds batch_seq, returns duplicate = true and changes nothing else (duplicate_pushes counts
  // it). Otherwise every trajectory is accepted or dropped, in order:
  //   - dropped "late" / "unknown_lease" unless its lease is open and was issued to actor_id;
  //   - dropped "invalid", ending its lease as "error", when sample_index >= samples_per_prompt,
  //     that sample_index already arrived, prompt_ids differ from the leased prompt's,
  //     policy_version is ahead of the learner's, actor_id is set and differs from the pusher's,
  //     or logprobs and completion_ids differ in length;
  //   - dropped "stale", ending its lease as "stale", when its policy lag exceeds max_policy_lag;
  //   - otherwise accepted. A lease whose n samples have all arrived moves to the training queue.
  // A trajectory whose lease an earlier trajectory of the same push ended is dropped with that
  // trajectory's reason. After Shutdown() every trajectory is dropped "shutdown".
  // INVALID_ARGUMENT (nothing recorded) for an empty actor_id or batch_seq 0.
  absl::StatusOr<v1::PushRolloutsResponse> Push(const std::string& actor_id, uint64_t batch_seq,
                                                std::vector<v1::Trajectory> trajectories);

  // When prompts_per_step complete groups are queued, removes the oldest prompts_per_step (in the
  // order they completed), counts them consumed and returns them; otherwise returns nothing. First
  // drops (as "stale") queued groups whose oldest sample now lags more than max_policy_lag.
  std::vector<PromptGroup> TryTakeBatch();

  // Expires overdue leases now (for a periodic timer; the other calls do it lazily too).
  void ExpireLeases();

  // The learner's policy version; staleness is measured against it. REQUIRES: not below the
  // current one.
  void SetPolicyVersion(uint64_t version);
  uint64_t policy_version() const;

  // Ends every open and queued lease as dropped "shutdown" and stops leasing. Idempotent. The
  // retry queue is kept (it belongs to the data position, which a checkpoint saves).
  void Shutdown();

  LedgerStats Stats() const;

  // Recounts the containers and checks every identity in the file comment; INTERNAL naming the
  // broken one. For tests and debug assertions.
  absl::Status CheckInvariants() const;

  // The complete state for a checkpoint (does not expire anything first).
  v1::LedgerState Save() const;

  // Makes this ledger continue exactly where `state`'s ledger stood: the policy version, the
  // source's cursor, next lease id, retry queue, open leases (still open, with their saved
  // deadlines: an actor that survived the learner's restart can still complete them, and those past
  // their deadline expire on the first call and are re-queued), queued groups, counters and push
  // windows. REQUIRES nothing to have happened on this ledger yet (else FAILED_PRECONDITION).
  // FAILED_PRECONDITION when the state's samples_per_prompt or format differs or the source refuses
  // the cursor; INVALID_ARGUMENT when the state is inconsistent. On error the ledger is unchanged.
  absl::Status Restore(const v1::LedgerState& state);

 private:
  struct OpenLease {
    uint64_t id = 0;
    std::string actor_id;
    Prompt prompt;
    absl::Time deadline;
    std::map<uint32_t, v1::Trajectory> samples;  // by sample_index
  };

  void ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why `t` breaks `lease`'s contract, or "" when it does not.
  std::string ContractViolation(const v1::Trajectory& t, const std::string& actor_id,
                                const OpenLease& lease) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordLag(uint64_t sample_version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsStale(uint64_t sample_version) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsFresh() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  static v1::LeaseRecord ToRecord(const OpenLease& lease);

  // Constant after construction.
  const PromptLedgerOptions options_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  std::unique_ptr<PromptSource> source_ ABSL_GUARDED_BY(mu_);
  uint64_t policy_version_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_lease_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<Prompt> retry_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, OpenLease> open_ ABSL_GUARDED_BY(mu_);
  std::deque<OpenLease> queued_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PushWindow> windows_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;

  // Counters; see LedgerStats.
  uint64_t leased_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t consumed_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> dropped_ ABSL_GUARDED_BY(mu_);
  uint64_t drawn_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reissued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pushes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t duplicate_pushes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t trajectories_accepted_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> trajectories_dropped_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> lag_histogram_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_PROMPT_LEDGER_H_
