// Supervised fine-tuning (`pelican sft`, and the first stage of `pelican run` for a built-in
// task): next-token cross-entropy on demonstration completions, on the RL trainer's optimizer
// (ModelOptimizer) and forward pass (ForwardCompletions).
//
//   demonstrations (sft.train_file, or the task's sft.jsonl) ─► batches of sft.batch_size
//   ─► -mean log p(completion + EOS | prompt) ─► AdamW (warm-up, cosine) ─► HF dir sft.output
//
// The start is sft.init, or a new tiny model (model.tiny) with a tokenizer learned from the task.
#ifndef PELICAN_LEARNER_SFT_H_
#define PELICAN_LEARNER_SFT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

struct SftResult {
  std::string output;  // the written model directory
  uint64_t steps = 0;
  double first_loss = 0.0;  // mean token cross-entropy of the first and the last step
  double last_loss = 0.0;
  uint64_t examples = 0;
};

// Runs SFT as config.sft says; task data goes under <run_dir>/data. Logs progress every 10%.
absl::StatusOr<SftResult> RunSft(const v1::RunConfig& config, const std::string& run_dir);

}  // namespace pelican

#endif  // PELICAN_LEARNER_SFT_H_
