// The reward-hacking guard's signals and trip rule (DESIGN.md, "Reward-hacking guard").
//
//   every step:  reward, KL, entropy, completion lengths, repeats ──► per-step signals
//                (kl, entropy, repeat_ngram, distinct_2, ensemble_std) and the window sums
//   every guard.eval_every_steps: the gold probe's score ──► best score, gold_drop; the window's
//                means ──► kl_accel, length_drift; the window restarts
//
// Signals (their names are the `signal` label of pelican_learner_guard_signal):
// - gold_drop: (best gold - gold) / max(|best gold|, 1e-3), 0 while gold is at its best. Trips
//   when it is above guard.gold_drop at two probes in a row, each while the window's mean
//   training reward is at least the one of the window that ended at the best probe: the policy
//   pleases the training reward more while the gold scorer likes it less. A gold score that falls
//   with the reward is not gaming; one low probe of a small held-out set is often noise.
// - kl: the step's mean KL to the reference; trips above guard.kl_budget (0 = off).
// - kl_accel: second difference of the mean KL of the last three windows (reported only).
// - ensemble_std: the step's mean reward uncertainty (ensemble spread; reported only).
// - repeat_ngram: pooled repeated 3-gram fraction of the step's completions; trips above
//   guard.max_repeat_ngram_fraction.
// - distinct_2: distinct bigrams / bigrams of the step's completions (reported only).
// - length_drift: the window's mean completion length / the first window's, minus 1 (reported).
// - entropy: the step's mean token entropy; trips below guard.min_entropy (0 = off).
//
// A trip latches (`tripped`) until Rearm(), which the learner calls after a corrective action
// (rollback, raise_kl); with the alert or stop actions it stays tripped. The best gold score is
// tracked whether or not the guard acts, so the learner can keep the best checkpoint.
//
// Thread safety: none; the learner's training thread owns the guard.
#ifndef PELICAN_LEARNER_GUARD_H_
#define PELICAN_LEARNER_GUARD_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "pelican/v1/config.pb.h"
#include "pelican/v1/learner_state.pb.h"

namespace pelican {

enum class GuardSignal {
  kGoldDrop,
  kKl,
  kKlAccel,
  kEnsembleStd,
  kRepeatNgram,
  kDistinct2,
  kLengthDrift,
  kEntropy,
};
inline constexpr GuardSignal kAllGuardSignals[] = {
    GuardSignal::kGoldDrop,    GuardSignal::kKl,          GuardSignal::kKlAccel,
    GuardSignal::kEnsembleStd, GuardSignal::kRepeatNgram, GuardSignal::kDistinct2,
    GuardSignal::kLengthDrift, GuardSignal::kEntropy};

// "gold_drop", "kl", "kl_accel", "ensemble_std", "repeat_ngram", "distinct_2", "length_drift",
// "entropy".
const char* GuardSignalName(GuardSignal signal);

// What one training step tells the guard.
struct GuardStepInput {
  uint64_t step = 0;
  double reward_mean = 0.0;
  double kl = 0.0;
  double entropy = 0.0;
  // Completion token ids of the step's samples, and their mean reward uncertainty (0 without an
  // ensemble).
  std::vector<std::vector<int32_t>> completions;
  double reward_uncertainty = 0.0;
};

struct GuardTrip {
  GuardSignal signal;
  double value = 0.0;
  double threshold = 0.0;
};

struct GoldObservation {
  bool best = false;  // the best gold score so far (keep this step's checkpoint)
  std::optional<GuardTrip> trip;
};

class RewardGuard {
 public:
  explicit RewardGuard(const v1::GuardSection& config);

  // After each training step. Returns a trip when a per-step signal crosses its limit and the
  // guard is not tripped already.
  std::optional<GuardTrip> ObserveStep(const GuardStepInput& input);
  // After a gold-probe evaluation at `step`; closes the current window.
  GoldObservation ObserveGold(uint64_t step, double gold_score);
  // Clears `tripped` after a corrective action; the trip count and best score stay.
  void Rearm();
  // Counts a rollback to the best checkpoint (and re-arms).
  void RolledBack();

  bool tripped() const { return state_.tripped(); }
  const v1::GuardState& state() const { return state_; }
  void Restore(const v1::GuardState& state) { state_ = state; }

  // A signal's latest value, absent before it has one.
  std::optional<double> value(GuardSignal signal) const;
  // The configured limit of a signal that can trip (a minimum for entropy, a maximum for the
  // others); absent for a signal that is off or only reported.
  std::optional<double> threshold(GuardSignal signal) const;

 private:
  void Set(GuardSignal signal, double value);
  std::optional<GuardTrip> Check(GuardSignal signal, double value);
  std::optional<GuardTrip> Trip(uint64_t step, const GuardTrip& trip);

  const v1::GuardSection config_;
  v1::GuardState state_;
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_GUARD_H_
