// Scores a policy on the task's held-out set: greedy completions for every eval prompt, scored
// in-process by the gold scorers (guard.gold) when the config has them, else by the run config's
// reward scorers (the default composite: for the arithmetic task that is the exact-answer
// verifier, so the score is accuracy). With gold scorers, each sample's training reward is
// scored too, so a gap between the two shows. The learner's guard uses it as
// its gold probe on the model being trained; `pelican eval` and the before/after figures of
// `pelican run` on a policy directory.
#ifndef PELICAN_LEARNER_EVALUATION_H_
#define PELICAN_LEARNER_EVALUATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/hf_model.h"
#include "common/tokenizer/tokenizer.h"
#include "learner/task_data.h"
#include "pelican/v1/config.pb.h"
#include "reward_service/scorer_factory.h"

namespace pelican {

struct EvalSample {
  std::string prompt;
  std::string completion;
  std::string reference;
  double score = 0.0;   // by the gold scorers (guard.gold) when set, else the training reward
  double reward = 0.0;  // by the training reward, when gold scorers are set
};

struct EvalResult {
  bool has_gold = false;     // scored by guard.gold, with the training reward beside it
  double score = 0.0;        // mean over the eval set
  double reward = 0.0;       // mean training reward, when has_gold
  double distinct_2 = 0.0;   // distinct bigrams / bigrams over all completions
  double mean_length = 0.0;  // completion tokens
  int64_t examples = 0;
  std::vector<EvalSample> samples;  // every example, in eval-set order
};

// The held-out prompts, the tokenizer and the scorers, loaded once; Evaluate runs a model.
class HeldOutEvaluator {
 public:
  // Which held-out set: the test set of `pelican eval`, or the guard's probe (validation).
  enum class Set { kEval, kProbe };

  // Task data goes under <run_dir>/data; `tokenizer_path` is the policy's tokenizer.json.
  static absl::StatusOr<std::unique_ptr<HeldOutEvaluator>> Create(const v1::RunConfig& config,
                                                                  const std::string& tokenizer_path,
                                                                  const std::string& run_dir,
                                                                  Set set = Set::kEval);

  // Greedy completions of `model` (in eval mode, without gradients) for every held-out prompt.
  // A sample the scorers cannot score is an error, not a 0.
  absl::StatusOr<EvalResult> Evaluate(Transformer& model, const GenerationConfig& generation) const;

  size_t size() const { return examples_.size(); }

 private:
  HeldOutEvaluator() = default;

  v1::RunConfig config_;
  std::vector<TextPair> examples_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<reward::ScorerSet> scorers_;  // the training reward
  std::unique_ptr<reward::ScorerSet> gold_;     // guard.gold; null when not set
};

// The samples a policy that games its training reward gives away, for the guard's harvest: training
// reward above `reward_floor` (the best probe's mean) while the gold score is below `gold_limit`
// (guard.gold_drop below the best gold score). Empty unless `result` was scored with gold scorers
// (has_gold).
std::vector<EvalSample> HighRewardLowGold(const EvalResult& result, double reward_floor,
                                          double gold_limit);

// `model_dir` is an HF directory with tokenizer.json (or config.model.tokenizer). Task data goes
// under <run_dir>/data. A sample the scorers cannot score is an error, not a 0.
absl::StatusOr<EvalResult> EvaluatePolicy(const v1::RunConfig& config, const std::string& model_dir,
                                          const std::string& run_dir);

// {"score", "distinct_2", "mean_length", "examples", "checkpoint"} as one JSON line.
std::string EvalJson(const EvalResult& result, const std::string& model_dir);

}  // namespace pelican

#endif  // PELICAN_LEARNER_EVALUATION_H_
