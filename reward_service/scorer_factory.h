// Builds the reward service's scorers from its config section:
//
//   pelican.v1.RewardSection.scorers ──► one Scorer per ScorerSpec ──► ScorerSet
//     "default": CompositeScorer of all components, with their weights and normalisation
//     "<name>":  CompositeScorer of that component alone (weight 1, raw values)
//
// Rule-based kinds (exact_match, regex, length_penalty, repetition_penalty, stop_penalty) are
// built in. The reward_model kind needs LibTorch models and is plugged in through a ScorerRegistry:
// the binary that can build it registers a builder once at start, e.g.
//
//   ScorerRegistry::Global().Register(v1::ScorerSpec::kRewardModel, &BuildRewardModelScorer);
//
// and every caller of BuildScorerSet gets it without change. Without one, a reward_model spec is
// UNIMPLEMENTED. A registered builder also overrides a built-in kind (tests use this for fakes).
#ifndef PELICAN_REWARD_SERVICE_SCORER_FACTORY_H_
#define PELICAN_REWARD_SERVICE_SCORER_FACTORY_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pelican/v1/config.pb.h"
#include "reward_service/composite_scorer.h"
#include "reward_service/scorer.h"

namespace pelican::reward {

// Builds one scorer from its spec. The scorer's name() must be spec.name().
using ScorerBuilder =
    std::function<absl::StatusOr<std::unique_ptr<Scorer>>(const v1::ScorerSpec& spec)>;

// Builders by ScorerSpec kind. Thread-safe.
class ScorerRegistry {
 public:
  // The registry BuildScorer and BuildScorerSet use unless given another. Never destroyed.
  static ScorerRegistry& Global();

  // Registers `builder` for specs of `kind`, replacing an earlier registration.
  void Register(v1::ScorerSpec::KindCase kind, ScorerBuilder builder);
  // The builder registered for `kind`, or an empty function.
  ScorerBuilder Find(v1::ScorerSpec::KindCase kind) const;

 private:
  // Guarded by mu_ (std::mutex rather than absl::Mutex: ThreadSanitizer sees through it with
  // Debian's uninstrumented Abseil).
  mutable std::mutex mu_;
  absl::flat_hash_map<int, ScorerBuilder> builders_;
};

// One scorer from `spec`: a registered builder for its kind, else the built-in one. Errors:
// INVALID_ARGUMENT for a malformed spec (no name, no kind, bad pattern or parameters),
// UNIMPLEMENTED for reward_model without a registered builder. Messages name the scorer.
absl::StatusOr<std::unique_ptr<Scorer>> BuildScorer(
    const v1::ScorerSpec& spec, const ScorerRegistry& registry = ScorerRegistry::Global());

// The scorers a reward service offers. Immutable after construction, except for the composites'
// own thread-safe state; share it between threads freely.
class ScorerSet {
 public:
  // Name of the composite of all configured components, and what ScoreRequest.scorer "" means.
  static constexpr char kDefaultName[] = "default";

  // A set of `scorers`, the first being the default. INVALID_ARGUMENT when it is empty, holds a
  // null scorer or repeats a name.
  static absl::StatusOr<std::unique_ptr<ScorerSet>> Create(
      std::vector<std::unique_ptr<CompositeScorer>> scorers);

  // The scorer called `name` ("" = the default). INVALID_ARGUMENT naming the offered scorers
  // when there is none.
  absl::StatusOr<CompositeScorer*> Find(absl::string_view name) const;

  // Names accepted in ScoreRequest.scorer, the default first (for InfoResponse.scorers).
  std::vector<std::string> names() const;

  CompositeScorer& default_scorer() const { return *scorers_.front(); }

 private:
  explicit ScorerSet(std::vector<std::unique_ptr<CompositeScorer>> scorers)
      : scorers_(std::move(scorers)) {}

  const std::vector<std::unique_ptr<CompositeScorer>> scorers_;  // the default first
};

// Builds every scorer of `section`. INVALID_ARGUMENT when it has no scorers, when names repeat
// or one is "default", or a weight is not finite; otherwise BuildScorer's errors, prefixed with
// "reward.scorers[i]".
absl::StatusOr<std::unique_ptr<ScorerSet>> BuildScorerSet(
    const v1::RewardSection& section, const ScorerRegistry& registry = ScorerRegistry::Global());

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_SCORER_FACTORY_H_
