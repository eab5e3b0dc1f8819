#include "learner/guard.h"

#include <algorithm>
#include <cmath>

#include "common/text_stats.h"

namespace pelican {
namespace {

// gold_drop's denominator floor: a best score of about 0 makes no drop measurable.
constexpr double kMinGoldScale = 1e-3;
constexpr int kKlHistory = 3;
// Probes in a row over the gold-drop limit that make a trip.
constexpr uint32_t kGoldDropPatience = 2;

}  // namespace

const char* GuardSignalName(GuardSignal signal) {
  switch (signal) {
    case GuardSignal::kGoldDrop:
      return "gold_drop";
    case GuardSignal::kKl:
      return "kl";
    case GuardSignal::kKlAccel:
      return "kl_accel";
    case GuardSignal::kEnsembleStd:
      return "ensemble_std";
    case GuardSignal::kRepeatNgram:
      return "repeat_ngram";
    case GuardSignal::kDistinct2:
      return "distinct_2";
    case GuardSignal::kLengthDrift:
      return "length_drift";
    case GuardSignal::kEntropy:
      return "entropy";
  }
  return "unknown";
}

RewardGuard::RewardGuard(const v1::GuardSection& config) : config_(config) {}

void RewardGuard::Set(GuardSignal signal, double value) {
  (*state_.mutable_signals())[GuardSignalName(signal)] = value;
}

std::optional<double> RewardGuard::value(GuardSignal signal) const {
  auto it = state_.signals().find(GuardSignalName(signal));
  if (it == state_.signals().end()) return std::nullopt;
  return it->second;
}

std::optional<double> RewardGuard::threshold(GuardSignal signal) const {
  switch (signal) {
    case GuardSignal::kGoldDrop:
      return config_.gold_drop();
    case GuardSignal::kKl:
      if (config_.kl_budget() > 0) return config_.kl_budget();
      return std::nullopt;
    case GuardSignal::kRepeatNgram:
      return config_.max_repeat_ngram_fraction();
    case GuardSignal::kEntropy:
      if (config_.min_entropy() > 0) return config_.min_entropy();
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::optional<GuardTrip> RewardGuard::Check(GuardSignal signal, double value) {
  const std::optional<double> limit = threshold(signal);
  if (!limit) return std::nullopt;
  const bool crossed = signal == GuardSignal::kEntropy ? value < *limit : value > *limit;
  if (!crossed) return std::nullopt;
  return GuardTrip{signal, value, *limit};
}

std::optional<GuardTrip> RewardGuard::Trip(uint64_t step, const GuardTrip& trip) {
  if (state_.tripped()) return std::nullopt;
  state_.set_tripped(true);
  state_.set_trip_step(step);
  state_.set_reason(GuardSignalName(trip.signal));
  state_.set_trips(state_.trips() + 1);
  return trip;
}

std::optional<GuardTrip> RewardGuard::ObserveStep(const GuardStepInput& input) {
  Set(GuardSignal::kKl, input.kl);
  Set(GuardSignal::kEntropy, input.entropy);
  Set(GuardSignal::kEnsembleStd, input.reward_uncertainty);
  double mean_length = 0.0;
  if (absl::StatusOr<TextStats> s3 = ComputeTextStats(input.completions, 3); s3.ok()) {
    Set(GuardSignal::kRepeatNgram, s3->repeated_ngram_fraction);
    mean_length = s3->mean_length;
  } else {
    // No completion has three tokens: nothing can repeat (text_stats.h's one-sequence rule).
    Set(GuardSignal::kRepeatNgram, 0.0);
    int64_t tokens = 0;
    for (const auto& c : input.completions) tokens += static_cast<int64_t>(c.size());
    if (!input.completions.empty()) {
      mean_length = static_cast<double>(tokens) / static_cast<double>(input.completions.size());
    }
  }
  // distinct_2 keeps its last value when the step has no bigram at all.
  if (absl::StatusOr<TextStats> s2 = ComputeTextStats(input.completions, 2); s2.ok()) {
    Set(GuardSignal::kDistinct2, s2->distinct_n);
  }
  state_.set_window_steps(state_.window_steps() + 1);
  state_.set_window_reward(state_.window_reward() + input.reward_mean);
  state_.set_window_kl(state_.window_kl() + input.kl);
  state_.set_window_length(state_.window_length() + mean_length);

  for (GuardSignal signal : {GuardSignal::kKl, GuardSignal::kRepeatNgram, GuardSignal::kEntropy}) {
    if (std::optional<GuardTrip> trip = Check(signal, *value(signal))) {
      return Trip(input.step, *trip);
    }
  }
  return std::nullopt;
}

GoldObservation RewardGuard::ObserveGold(uint64_t step, double gold_score) {
  GoldObservation out;
  const double n = std::max<uint32_t>(1, state_.window_steps());
  // Without steps in the window (a probe at the start), the reward is unknown: the best window's
  // reward is then the lowest possible, so any later window counts as "not falling".
  const bool have_window = state_.window_steps() > 0;
  const double window_reward = have_window ? state_.window_reward() / n : -INFINITY;
  if (have_window) {
    const double window_length = state_.window_length() / n;
    if (state_.first_length() == 0.0) state_.set_first_length(window_length);
    if (state_.first_length() > 0.0) {
      Set(GuardSignal::kLengthDrift, window_length / state_.first_length() - 1.0);
    }
    state_.add_kl_history(state_.window_kl() / n);
    if (state_.kl_history_size() > kKlHistory)
      state_.mutable_kl_history()->erase(state_.mutable_kl_history()->begin());
    if (state_.kl_history_size() == kKlHistory) {
      const auto& k = state_.kl_history();
      Set(GuardSignal::kKlAccel, (k[2] - k[1]) - (k[1] - k[0]));
    }
  }
  state_.set_has_gold(true);
  state_.set_gold_score(gold_score);
  if (!state_.has_best() || gold_score > state_.best_score()) {
    state_.set_has_best(true);
    state_.set_best_score(gold_score);
    state_.set_best_step(step);
    state_.set_reward_at_best(window_reward);
    out.best = true;
  }
  const double drop =
      (state_.best_score() - gold_score) / std::max(std::fabs(state_.best_score()), kMinGoldScale);
  Set(GuardSignal::kGoldDrop, drop);
  std::optional<GuardTrip> over = Check(GuardSignal::kGoldDrop, drop);
  if (over && have_window && window_reward >= state_.reward_at_best()) {
    state_.set_gold_drop_streak(state_.gold_drop_streak() + 1);
    if (state_.gold_drop_streak() >= kGoldDropPatience) out.trip = Trip(step, *over);
  } else {
    state_.set_gold_drop_streak(0);
  }
  state_.set_window_steps(0);
  state_.set_window_reward(0);
  state_.set_window_kl(0);
  state_.set_window_length(0);
  return out;
}

void RewardGuard::Rearm() {
  state_.set_tripped(false);
  state_.set_gold_drop_streak(0);
}

void RewardGuard::RolledBack() {
  state_.set_rollbacks(state_.rollbacks() + 1);
  Rearm();
}

}  // namespace pelican
