// Scores a policy directory on the task's held-out set: greedy completions for every eval
// prompt, scored in-process by the run config's reward scorers (the default composite: for the
// arithmetic task that is the exact-answer verifier, so the score is accuracy). Shared by
// `pelican eval` and the before/after figures of `pelican run`.
#ifndef PELICAN_CLI_EVALUATION_H_
#define PELICAN_CLI_EVALUATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pelican/v1/config.pb.h"

namespace pelican::cli {

struct EvalSample {
  std::string prompt;
  std::string completion;
  std::string reference;
  double score = 0.0;
};

struct EvalResult {
  double score = 0.0;        // mean over the eval set
  double distinct_2 = 0.0;   // distinct bigrams / bigrams over all completions
  double mean_length = 0.0;  // completion tokens
  int64_t examples = 0;
  std::vector<EvalSample> samples;  // every example, in eval-set order
};

// `model_dir` is an HF directory with tokenizer.json (or config.model.tokenizer). Task data goes
// under <run_dir>/data. A sample the scorers cannot score is an error, not a 0.
absl::StatusOr<EvalResult> EvaluatePolicy(const v1::RunConfig& config, const std::string& model_dir,
                                          const std::string& run_dir);

// {"score", "distinct_2", "mean_length", "examples", "checkpoint"} as one JSON line.
std::string EvalJson(const EvalResult& result, const std::string& model_dir);

}  // namespace pelican::cli

#endif  // PELICAN_CLI_EVALUATION_H_
