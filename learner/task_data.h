// The data of a run's task as JSONL files, the one format every stage reads:
//
//   task.kind = jsonl        the configured train_file / eval_file, as they are
//   task.kind = arithmetic   generated in code, deterministic in run.seed, written under a
//                            directory: "a+b=" prompts with their sums. Operand pairs are split
//                            once into training pairs and held-out pairs (a fifth), so the
//                            evaluation asks sums the policy never trained on.
//
//   train.jsonl  {"prompt": "7+12=", "answer": "19"}       RL prompts (learner)
//   eval.jsonl   {"prompt": "3+15=", "answer": "18"}       held-out set (eval, the guard's probe)
//   sft.jsonl    {"prompt": "7+12=", "completion": "19"}   demonstrations (sft)
//
// SFT sees a third of the training pairs only: it teaches the answer format and gives the weak
// start RL must improve on.
#ifndef PELICAN_LEARNER_TASK_DATA_H_
#define PELICAN_LEARNER_TASK_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

struct TaskFiles {
  std::string train;
  std::string eval;
  std::string sft;  // "" when the task has no demonstrations
};

// The task's files: the configured ones for jsonl (NOT_FOUND naming a missing one), or the
// built-in task's, generated into `dir` (created) unless already there with the same content.
absl::StatusOr<TaskFiles> PrepareTaskData(const v1::TaskSection& task, uint64_t seed,
                                          const std::string& dir);

// Text that covers the task's alphabet, for training a tiny model's tokenizer.
std::vector<std::string> TaskTokenizerCorpus(const v1::TaskSection& task, uint64_t seed);

// One example of a JSONL file with "prompt" and a second key ("answer" or "completion").
struct TextPair {
  std::string prompt;
  std::string second;
};
// Reads `path`; INVALID_ARGUMENT naming file:line for a line without string values at the keys.
absl::StatusOr<std::vector<TextPair>> ReadTextPairs(const std::string& path,
                                                    const std::string& prompt_key,
                                                    const std::string& second_key);

}  // namespace pelican

#endif  // PELICAN_LEARNER_TASK_DATA_H_
