#include "learner/learner_metrics.h"

#include "common/metrics.h"
#include "nlohmann/json.hpp"

namespace pelican {
namespace {

prometheus::Gauge& MakeGauge(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}
prometheus::Counter& MakeCounter(prometheus::Registry& r, const std::string& name,
                                 const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

LearnerMetrics::LearnerMetrics(prometheus::Registry& r)
    : registry_(r),
      step_(MakeGauge(r, "pelican_learner_step", "Training steps taken")),
      version_(MakeGauge(r, "pelican_learner_policy_version", "Current policy version")),
      reward_mean_(MakeGauge(r, "pelican_learner_reward_mean", "Mean reward of the last batch")),
      reward_std_(MakeGauge(r, "pelican_learner_reward_std", "Reward std of the last batch")),
      kl_(MakeGauge(r, "pelican_learner_kl", "Mean per-sequence KL to the reference")),
      kl_coef_(MakeGauge(r, "pelican_learner_kl_coef", "KL coefficient")),
      entropy_(MakeGauge(r, "pelican_learner_entropy", "Mean policy entropy per token (nats)")),
      policy_loss_(MakeGauge(r, "pelican_learner_policy_loss", "Policy loss of the last step")),
      value_loss_(MakeGauge(r, "pelican_learner_value_loss", "Value loss of the last step")),
      clip_fraction_(MakeGauge(r, "pelican_learner_clip_fraction", "Share of clipped tokens")),
      approx_kl_(MakeGauge(r, "pelican_learner_approx_kl", "Approximate KL(old || new)")),
      grad_norm_(MakeGauge(r, "pelican_learner_grad_norm", "Gradient norm before clipping")),
      lr_(MakeGauge(r, "pelican_learner_learning_rate", "Learning rate")),
      length_(MakeGauge(r, "pelican_learner_response_length_tokens",
                        "Mean completion length of the last batch")),
      tokens_(MakeCounter(r, "pelican_learner_tokens_total", "Completion tokens trained on")),
      steps_(MakeCounter(r, "pelican_learner_steps_total", "Training steps taken")),
      step_seconds_(prometheus::BuildHistogram()
                        .Name("pelican_learner_step_seconds")
                        .Help("Wall time of one training step, waiting for data included")
                        .Register(r)
                        .Add({}, LatencyBucketsSeconds())),
      phase_(prometheus::BuildCounter()
                 .Name("pelican_learner_phase_seconds_total")
                 .Help("Seconds spent per phase of the training loop")
                 .Register(r)),
      lag_(prometheus::BuildHistogram()
               .Name("pelican_learner_policy_lag")
               .Help("Policy versions between a sample's policy and the learner's at arrival")
               .Register(r)
               .Add({}, prometheus::Histogram::BucketBoundaries{0, 1, 2, 4, 8})),
      leased_(MakeCounter(r, "pelican_learner_ledger_leased_total", "Prompts leased")),
      consumed_(MakeCounter(r, "pelican_learner_ledger_consumed_total",
                            "Prompts consumed by a training step")),
      dropped_(prometheus::BuildCounter()
                   .Name("pelican_learner_ledger_dropped_total")
                   .Help("Prompts dropped, by reason")
                   .Register(r)),
      in_flight_(MakeGauge(r, "pelican_learner_ledger_in_flight",
                           "Prompts leased and not yet consumed or dropped")),
      actors_(MakeGauge(r, "pelican_learner_actors_connected", "Actors seen recently")),
      publish_seconds_(prometheus::BuildHistogram()
                           .Name("pelican_learner_weight_publish_seconds")
                           .Help("Encoding and publishing one policy version")
                           .Register(r)
                           .Add({}, LatencyBucketsSeconds())),
      publish_bytes_(MakeCounter(r, "pelican_learner_weight_publish_bytes_total",
                                 "Bytes of weights published")),
      checkpoints_(MakeCounter(r, "pelican_learner_checkpoints_total", "Checkpoints written")),
      checkpoint_seconds_(prometheus::BuildHistogram()
                              .Name("pelican_learner_checkpoint_seconds")
                              .Help("Writing one checkpoint")
                              .Register(r)
                              .Add({}, LatencyBucketsSeconds())),
      gold_(prometheus::BuildGauge()
                .Name("pelican_learner_gold_score")
                .Help("Held-out probe score from the guard's gold scorer")
                .Register(r)),
      guard_tripped_(MakeGauge(r, "pelican_learner_guard_tripped",
                               "1 while the reward-hacking guard is tripped")),
      guard_trips_(MakeCounter(r, "pelican_learner_guard_trips_total", "Guard trips so far")),
      guard_best_(prometheus::BuildGauge()
                      .Name("pelican_learner_guard_best_score")
                      .Help("Best gold score seen (the kept checkpoint's)")
                      .Register(r)),
      guard_signal_(prometheus::BuildGauge()
                        .Name("pelican_learner_guard_signal")
                        .Help("Each guard signal's current value")
                        .Register(r)),
      guard_threshold_(prometheus::BuildGauge()
                           .Name("pelican_learner_guard_threshold")
                           .Help("The configured limit of each guard signal that can trip")
                           .Register(r)) {
  for (const char* phase :
       {"wait_data", "forward_backward", "allreduce", "publish", "checkpoint"}) {
    phase_.Add({{"phase", phase}});
  }
}

void LearnerMetrics::RecordStep(const RlStepStats& s, const StepTimes& t, uint64_t policy_version) {
  step_.Set(static_cast<double>(s.step));
  version_.Set(static_cast<double>(policy_version));
  reward_mean_.Set(s.reward_mean);
  reward_std_.Set(s.reward_std);
  kl_.Set(s.kl);
  kl_coef_.Set(s.kl_coef);
  entropy_.Set(s.entropy);
  policy_loss_.Set(s.policy_loss);
  value_loss_.Set(s.value_loss);
  clip_fraction_.Set(s.clip_fraction);
  approx_kl_.Set(s.approx_kl);
  grad_norm_.Set(s.grad_norm);
  lr_.Set(s.learning_rate);
  length_.Set(s.response_length);
  tokens_.Increment(static_cast<double>(s.tokens));
  steps_.Increment();
  step_seconds_.Observe(t.total);
  phase_.Add({{"phase", "wait_data"}}).Increment(t.wait_data);
  phase_.Add({{"phase", "forward_backward"}}).Increment(t.forward_backward);
  phase_.Add({{"phase", "allreduce"}}).Increment(t.allreduce);
  phase_.Add({{"phase", "publish"}}).Increment(t.publish);
}

void LearnerMetrics::RecordLedger(const LedgerStats& ledger) {
  const LedgerStats& last = last_ledger_;
  auto grow = [](prometheus::Counter& c, uint64_t now, uint64_t before) {
    if (now > before) c.Increment(static_cast<double>(now - before));
  };
  grow(leased_, ledger.leased, have_ledger_ ? last.leased : 0);
  grow(consumed_, ledger.consumed, have_ledger_ ? last.consumed : 0);
  for (const char* reason :
       {drop_reason::kStale, drop_reason::kError, drop_reason::kExpired, drop_reason::kShutdown,
        drop_reason::kInvalid, drop_reason::kLate, drop_reason::kUnknown}) {
    dropped_.Add({{"reason", reason}});  // every reason present, 0 until it happens
  }
  for (const auto& [reason, n] : ledger.dropped) {
    uint64_t before = 0;
    if (have_ledger_) {
      auto it = last.dropped.find(reason);
      if (it != last.dropped.end()) before = it->second;
    }
    grow(dropped_.Add({{"reason", reason}}), n, before);
  }
  // Lag: the histogram is fed the new arrivals, bucket by bucket.
  for (size_t i = 0; i < ledger.lag_histogram.size(); ++i) {
    const uint64_t before =
        have_ledger_ && i < last.lag_histogram.size() ? last.lag_histogram[i] : 0;
    const double value = i + 1 < ledger.lag_histogram.size() ? static_cast<double>(i) : 1e9;
    for (uint64_t k = before; k < ledger.lag_histogram[i]; ++k) lag_.Observe(value);
  }
  in_flight_.Set(static_cast<double>(ledger.in_flight()));
  last_ledger_ = ledger;
  have_ledger_ = true;
}

void LearnerMetrics::RecordActors(uint32_t connected) { actors_.Set(connected); }

void LearnerMetrics::RecordPublish(double seconds, size_t bytes) {
  publish_seconds_.Observe(seconds);
  publish_bytes_.Increment(static_cast<double>(bytes));
}

void LearnerMetrics::RecordCheckpoint(double seconds) {
  checkpoints_.Increment();
  checkpoint_seconds_.Observe(seconds);
  phase_.Add({{"phase", "checkpoint"}}).Increment(seconds);
}

void LearnerMetrics::RecordGold(double score) { gold_.Add({}).Set(score); }

void LearnerMetrics::RecordGuard(const RewardGuard& guard) {
  const v1::GuardState& state = guard.state();
  guard_tripped_.Set(guard.tripped() ? 1 : 0);
  const double trips = static_cast<double>(state.trips());
  if (trips > guard_trips_.Value()) guard_trips_.Increment(trips - guard_trips_.Value());
  if (state.has_best()) guard_best_.Add({}).Set(state.best_score());
  for (GuardSignal signal : kAllGuardSignals) {
    const std::map<std::string, std::string> label = {{"signal", GuardSignalName(signal)}};
    // Every signal's child exists from the start (0 until it has a value), so its panel shows 0
    // rather than "no data".
    guard_signal_.Add(label).Set(guard.value(signal).value_or(0.0));
    if (std::optional<double> limit = guard.threshold(signal)) {
      guard_threshold_.Add(label).Set(*limit);
    }
  }
}

std::string LedgerJson(const LedgerStats& ledger) {
  nlohmann::json dropped = nlohmann::json::object();
  for (const auto& [reason, n] : ledger.dropped) dropped[reason] = n;
  return nlohmann::json{{"leased", ledger.leased},
                        {"consumed", ledger.consumed},
                        {"dropped", dropped},
                        {"in_flight", ledger.in_flight()}}
      .dump();
}

std::string StepJsonLine(const RlStepStats& s, const StepTimes& t, uint64_t policy_version,
                         const LedgerStats& ledger, double elapsed_s) {
  nlohmann::json j = {
      {"step", s.step},
      {"policy_version", policy_version},
      {"elapsed_s", elapsed_s},
      {"reward_mean", s.reward_mean},
      {"reward_std", s.reward_std},
      {"kl", s.kl},
      {"kl_coef", s.kl_coef},
      {"entropy", s.entropy},
      {"policy_loss", s.policy_loss},
      {"value_loss", s.value_loss},
      {"clip_fraction", s.clip_fraction},
      {"value_clip_fraction", s.value_clip_fraction},
      {"approx_kl", s.approx_kl},
      {"is_truncated_fraction", s.is_truncated_fraction},
      {"grad_norm", s.grad_norm},
      {"value_grad_norm", s.value_grad_norm},
      {"learning_rate", s.learning_rate},
      {"response_length", s.response_length},
      {"sequences", s.sequences},
      {"tokens", s.tokens},
      {"tokens_per_s", t.total > 0 ? static_cast<double>(s.tokens) / t.total : 0.0},
      {"time",
       {{"wait_data", t.wait_data},
        {"forward_backward", t.forward_backward},
        {"allreduce", t.allreduce},
        {"publish", t.publish},
        {"checkpoint", t.checkpoint},
        {"total", t.total}}},
      {"ledger", nlohmann::json::parse(LedgerJson(ledger))},
  };
  return j.dump() + "\n";
}

}  // namespace pelican
