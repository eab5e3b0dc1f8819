// CompositeScorer: the reward of a sample as a weighted sum of named components (DESIGN.md, "The
// reward service"):
//
//   batch ──► each component's ScoreBatch ──► [normalise by running mean/std] ──► Σ weight·value
//
// Per sample, the result is either a total with every component's (name, value, weight), or an
// error when any component failed for that sample: a reward with a part missing would be a
// made-up reward. The error names every failing component; its code is the first one's.
//
// Normalisation: a component with `normalize` enters the sum as (x - mean) / sqrt(var + 1e-8),
// where mean and var (population) are running statistics over every value the component has
// produced so far, this batch included; each batch updates them before it is normalised, under
// one lock, so concurrent batches see consistent statistics. The first value of a normalised
// component is therefore 0 (it is its own mean).
//
// A component that returns the wrong number of results, a non-finite value or uncertainty, or
// throws, fails the affected samples with INTERNAL; it never takes the service down.
//
// Thread safety: Score and Stats may be called concurrently; components must be thread-safe
// (the Scorer contract). Components are shared (shared_ptr), so one scorer may serve several
// composites (ScorerSet offers each component alone as well).
#ifndef PELICAN_REWARD_SERVICE_COMPOSITE_SCORER_H_
#define PELICAN_REWARD_SERVICE_COMPOSITE_SCORER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "reward_service/running_moments.h"
#include "reward_service/scorer.h"

namespace pelican::reward {

struct ComponentSpec {
  std::shared_ptr<Scorer> scorer;
  double weight = 1.0;
  bool normalize = false;
};

// One component's part of one sample's reward (becomes a pelican.v1.RewardComponent).
struct ComponentValue {
  std::string name;
  // The value that was weighted: normalised when the component normalises, else raw_value.
  double value = 0;
  double weight = 0;
  // What the component returned.
  double raw_value = 0;
};

struct CompositeResult {
  // OK, or why the sample has no reward.
  absl::Status status;
  // Σ weight·value over components; only meaningful when status is OK.
  double total = 0;
  // sqrt(Σ (weight·scale·uncertainty)²) over components (scale: the normalisation factor or 1),
  // treating the components' errors as independent. 0 when no component is an ensemble.
  double uncertainty = 0;
  // In component order; empty when status is not OK.
  std::vector<ComponentValue> components;
};

// A snapshot of one component's running state, for metrics.
struct ComponentStats {
  std::string name;
  double weight = 0;
  bool normalize = false;
  // Values scored and samples failed since construction. mean and stddev are of the raw values;
  // they are tracked for every component, normalised or not.
  int64_t count = 0;
  int64_t failures = 0;
  double mean = 0;
  double stddev = 0;
};

class CompositeScorer {
 public:
  // INVALID_ARGUMENT when `components` is empty, a scorer is null, names are empty or repeated,
  // or a weight is not finite.
  static absl::StatusOr<std::unique_ptr<CompositeScorer>> Create(
      std::string name, std::vector<ComponentSpec> components);

  const std::string& name() const { return name_; }
  // Component names, in order.
  std::vector<std::string> component_names() const;

  // One result per input, in order. Thread-safe.
  std::vector<CompositeResult> Score(absl::Span<const ScoreInput> batch);

  // Per component, in order. Thread-safe.
  std::vector<ComponentStats> Stats() const;

 private:
  CompositeScorer(std::string name, std::vector<ComponentSpec> components);

  // Runs component `c` on `batch` and checks what it returned: one result per input, finite.
  std::vector<absl::StatusOr<ScoreValue>> RunComponent(size_t c,
                                                       absl::Span<const ScoreInput> batch) const;

  // Constant after construction.
  const std::string name_;
  const std::vector<ComponentSpec> components_;

  // Guarded by mu_ (std::mutex rather than absl::Mutex: ThreadSanitizer sees through it with
  // Debian's uninstrumented Abseil).
  mutable std::mutex mu_;
  std::vector<RunningMoments> moments_;  // one per component
  std::vector<int64_t> failures_;        // one per component
};

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_COMPOSITE_SCORER_H_
