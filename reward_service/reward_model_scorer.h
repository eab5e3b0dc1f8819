// The learned reward-model scorer: one or more HF *ForSequenceClassification directories
// (num_labels 1) scoring prompt ++ completion, averaged as an ensemble.
//
//   ScoreInput[] ──validate ids──► ids, mask [N, T] (right-padded) ──one forward per model──►
//     scores [N] per model ──► value = mean over models, uncertainty = population std
//
// Legend: B samples in the batch, N of them valid for every model (N <= B), T the longest
// prompt ++ completion among the N.
//
// A reward model reads the score at the last real token (Transformer::SequenceScores), as HF's
// *ForSequenceClassification does. A sample one model cannot score (an id outside its vocabulary,
// too long for its positions, empty) is an error for every model, so a value is always the mean of
// the whole ensemble; a LibTorch failure in a forward is an error for the samples of that batch.
#ifndef PELICAN_REWARD_SERVICE_REWARD_MODEL_SCORER_H_
#define PELICAN_REWARD_SERVICE_REWARD_MODEL_SCORER_H_

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/model/hf_model.h"
#include "pelican/v1/reward.pb.h"
#include "reward_service/scorer.h"
#include "reward_service/scorer_factory.h"

namespace pelican::reward {

struct RewardModelScorerOptions {
  // Device and dtype the models are loaded with. value_head is ignored (always off).
  LoadOptions load;
  // pelican_reward_model_forward_seconds{scorer} is registered here; null = no metric. Must
  // outlive every scorer built with these options.
  prometheus::Registry* registry = nullptr;
};

class RewardModelScorer : public Scorer {
 public:
  // Loads every directory of `paths` (at least one). Errors name the path: whatever LoadModel
  // returns, and INVALID_ARGUMENT for a model that is not *ForSequenceClassification with
  // num_labels 1, or for an empty `paths`.
  static absl::StatusOr<std::unique_ptr<RewardModelScorer>> Create(
      std::string name, const std::vector<std::string>& paths,
      const RewardModelScorerOptions& options = {});

  const std::string& name() const override { return name_; }

  // One padded forward per model over the valid samples of `batch`; see the file comment.
  // Per-sample errors: INVALID_ARGUMENT for an empty sample, an id outside [0, vocab_size) or a
  // sequence longer than max_position_embeddings of any model; INTERNAL when LibTorch fails (for
  // every sample of that forward) or a score is not finite.
  // Thread-safe: the models are in eval mode, the forward runs under NoGradGuard and mutates no
  // module state, so concurrent calls share them without locking.
  std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput> batch) override;

  // One entry per model, in `paths` order: name (this scorer's), path, version.
  const std::vector<v1::RewardModelInfo>& models() const { return infos_; }

 private:
  struct Model {
    std::string path;
    LoadedModel loaded;
  };

  RewardModelScorer() = default;

  // Scores [N] (float64, CPU) of `model` for ids, mask [N, T] (int64, CPU).
  torch::Tensor Forward(Model& model, const torch::Tensor& ids, const torch::Tensor& mask);

  // Constant after construction.
  std::string name_;
  std::vector<Model> models_;
  std::vector<v1::RewardModelInfo> infos_;
  prometheus::Histogram* forward_seconds_ = nullptr;  // null = no metric
};

// The weights' version of HF model directory `dir`: the first 16 hex digits of the SHA-256 of
// model.safetensors, or, for a sharded checkpoint, of model.safetensors.index.json followed by its
// shards in name order. Reads the files in chunks (memory stays small).
absl::StatusOr<std::string> WeightsVersion(const std::string& dir);

// Registers a builder for ScorerSpec.reward_model in `registry`, building RewardModelScorers with
// `options`. `on_built`, when set, is called with each scorer built (e.g. to collect models() for
// InfoResponse) from the thread that calls BuildScorer.
void RegisterRewardModelScorer(ScorerRegistry& registry, RewardModelScorerOptions options = {},
                               std::function<void(const RewardModelScorer&)> on_built = nullptr);

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_REWARD_MODEL_SCORER_H_
