// The scorer interface of the reward service: one scorer turns a batch of (prompt, completion)
// samples into one value per sample, or an error for the samples it could not score.
//
//   ScoreRequest.samples ──► ScoreInput[] ──► Scorer::ScoreBatch ──► StatusOr<ScoreValue>[]
//                                               (components of a CompositeScorer)
//
// The contract every scorer keeps (DESIGN.md, "The reward service"): a sample that could not be
// scored gets an error status, never a made-up value. "The completion has no answer" is a real
// score (a wrong answer); "the sample has no reference answer" is an error.
//
// Scorers are batch-oriented so that a model-based scorer can run one forward per batch; the rule
// based ones simply loop.
#ifndef PELICAN_REWARD_SERVICE_SCORER_H_
#define PELICAN_REWARD_SERVICE_SCORER_H_

#include <google/protobuf/map.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace pelican::reward {

// One sample as scorers see it. Views the ids and metadata of the request, which must outlive the
// ScoreBatch call; owns the texts (a completion text may have been decoded from its ids).
struct ScoreInput {
  absl::Span<const int32_t> prompt_ids;
  // Completion ids; the stop token, when one was sampled, is the last id.
  absl::Span<const int32_t> completion_ids;
  // The prompt text as sent (may be empty; not decoded).
  std::string prompt_text;
  // The completion text: as sent, or decoded from completion_ids. nullopt when the sample carried
  // no text and no tokenizer was available to decode it; text-based scorers fail such a sample.
  std::optional<std::string> completion_text;
  // Sample metadata (verifiers read "reference"); null means none.
  const google::protobuf::Map<std::string, std::string>* metadata = nullptr;
  // Whether generation ended with a stop token (Sample.stopped).
  bool stopped = false;
};

// What a scorer returns for one sample.
struct ScoreValue {
  ScoreValue(double v, double u = 0.0) : value(v), uncertainty(u) {}  // NOLINT: implicit by design
  double value;
  // Standard deviation across an ensemble, 0 for scorers that are not ensembles.
  double uncertainty;
};

class Scorer {
 public:
  virtual ~Scorer() = default;

  // Name from the config (ScorerSpec.name); constant after construction.
  virtual const std::string& name() const = 0;

  // Scores `batch`: exactly one result per input, in the same order. A result is either a finite
  // value or an error naming what was wrong with that sample; one bad sample does not fail the
  // others.
  // Thread-safe: called concurrently from several batching threads.
  virtual std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(
      absl::Span<const ScoreInput> batch) = 0;
};

// The completion text of `in`, or FAILED_PRECONDITION when the sample had none and nothing
// decoded its ids. For text-based scorers.
absl::StatusOr<const std::string*> CompletionText(const ScoreInput& in);

// metadata[key] of `in`, or INVALID_ARGUMENT naming the key when it is absent.
absl::StatusOr<const std::string*> MetadataValue(const ScoreInput& in, const std::string& key);

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_SCORER_H_
