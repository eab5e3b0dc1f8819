// The learner's Prometheus metrics (names: deploy/prometheus/METRICS.md) and its per-step JSON
// line. One object per learner process; Record* calls come from the training thread.
#ifndef PELICAN_LEARNER_LEARNER_METRICS_H_
#define PELICAN_LEARNER_LEARNER_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>

#include "learner/guard.h"
#include "learner/prompt_ledger.h"
#include "learner/rl_trainer.h"

namespace pelican {

// Wall-clock split of one learner step, in seconds.
struct StepTimes {
  double wait_data = 0.0;
  double forward_backward = 0.0;
  double allreduce = 0.0;  // gradient averaging, clipping and the optimizer update
  double publish = 0.0;
  double checkpoint = 0.0;
  double total = 0.0;
};

class LearnerMetrics {
 public:
  explicit LearnerMetrics(prometheus::Registry& registry);

  void RecordStep(const RlStepStats& stats, const StepTimes& times, uint64_t policy_version);
  // Ledger counters are exported as totals that only grow: the difference since the last call
  // is added (a resumed run starts its process counters from the checkpoint's values).
  void RecordLedger(const LedgerStats& ledger);
  void RecordActors(uint32_t connected);
  void RecordPublish(double seconds, size_t bytes);
  void RecordCheckpoint(double seconds);
  // The gold probe's score (the gauge appears with the first probe).
  void RecordGold(double score);
  // The guard's state: tripped, trips, best score, each signal's value and limit.
  void RecordGuard(const RewardGuard& guard);

 private:
  prometheus::Registry& registry_;
  prometheus::Gauge& step_;
  prometheus::Gauge& version_;
  prometheus::Gauge& reward_mean_;
  prometheus::Gauge& reward_std_;
  prometheus::Gauge& kl_;
  prometheus::Gauge& kl_coef_;
  prometheus::Gauge& entropy_;
  prometheus::Gauge& policy_loss_;
  prometheus::Gauge& value_loss_;
  prometheus::Gauge& clip_fraction_;
  prometheus::Gauge& approx_kl_;
  prometheus::Gauge& grad_norm_;
  prometheus::Gauge& lr_;
  prometheus::Gauge& length_;
  prometheus::Counter& tokens_;
  prometheus::Counter& steps_;
  prometheus::Histogram& step_seconds_;
  prometheus::Family<prometheus::Counter>& phase_;
  prometheus::Histogram& lag_;
  prometheus::Counter& leased_;
  prometheus::Counter& consumed_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Gauge& in_flight_;
  prometheus::Gauge& actors_;
  prometheus::Histogram& publish_seconds_;
  prometheus::Counter& publish_bytes_;
  prometheus::Counter& checkpoints_;
  prometheus::Histogram& checkpoint_seconds_;
  prometheus::Family<prometheus::Gauge>& gold_;
  prometheus::Gauge& guard_tripped_;
  prometheus::Counter& guard_trips_;
  prometheus::Family<prometheus::Gauge>& guard_best_;
  prometheus::Family<prometheus::Gauge>& guard_signal_;
  prometheus::Family<prometheus::Gauge>& guard_threshold_;

  LedgerStats last_ledger_;
  bool have_ledger_ = false;
};

// {"leased", "consumed", "dropped": {reason: n}, "in_flight"} as JSON text.
std::string LedgerJson(const LedgerStats& ledger);

// One line of <run_dir>/metrics.jsonl.
std::string StepJsonLine(const RlStepStats& stats, const StepTimes& times, uint64_t policy_version,
                         const LedgerStats& ledger, double elapsed_s);

}  // namespace pelican

#endif  // PELICAN_LEARNER_LEARNER_METRICS_H_
