// Reward-model training from preference pairs (`pelican rm`): the Bradley–Terry loss
// -log σ(r(prompt, chosen) - r(prompt, rejected)) on an HF *ForSequenceClassification model (one
// label, read at the last real token), on the shared optimizer (ModelOptimizer). Reports the
// pairwise accuracy on held-out pairs and writes a directory the reward service loads as a
// `reward_model` scorer.
//
//   pairs JSONL ─► seeded shuffle ─► train / held-out ─► batches of chosen + rejected rows
//   ─► SequenceScores ─► Bradley–Terry loss ─► AdamW ─► HF reward-model dir (+ tokenizer.json)
#ifndef PELICAN_LEARNER_REWARD_MODEL_TRAINER_H_
#define PELICAN_LEARNER_REWARD_MODEL_TRAINER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

struct PreferencePair {
  std::string prompt;
  std::string chosen;    // completion after the prompt
  std::string rejected;  // completion after the prompt
};

// Reads JSONL pairs: {"prompt", "chosen", "rejected"}, or HH-RLHF's {"chosen", "rejected"} whole
// transcripts, split at the last "\n\nAssistant:" they share (prompt up to and including it).
// INVALID_ARGUMENT naming file:line for a malformed line, HH transcripts without a shared
// "\n\nAssistant:" turn, or pairs whose chosen and rejected are the same.
absl::StatusOr<std::vector<PreferencePair>> ReadPreferencePairs(const std::string& path);

struct RmResult {
  std::string output;
  uint64_t steps = 0;
  uint64_t train_pairs = 0;
  uint64_t eval_pairs = 0;
  double first_loss = 0.0;
  double last_loss = 0.0;
  double eval_accuracy = 0.0;  // share of held-out pairs scored chosen > rejected
  double eval_accuracy_before = 0.0;
};

// Trains as config.rm says (pairs from rm.train_file, or `pairs` when given).
absl::StatusOr<RmResult> TrainRewardModel(const v1::RunConfig& config,
                                          std::vector<PreferencePair> pairs = {});

}  // namespace pelican

#endif  // PELICAN_LEARNER_REWARD_MODEL_TRAINER_H_
