// The data of a run's task as JSONL files, the one format every stage reads:
//
//   task.kind = jsonl        the configured train_file / eval_file / probe_file, as they are
//   task.kind = arithmetic   generated in code, deterministic in run.seed, written under a
//                            directory: "a+b=" prompts with their sums. Operand pairs are split
//                            once into training pairs (70%), the guard's probe pairs (15%) and
//                            the test pairs of `pelican eval` (15%).
//
//   train.jsonl  {"prompt": "7+12=", "answer": "19"}       RL prompts (learner)
//   probe.jsonl  {"prompt": "9+14=", "answer": "23"}       validation: the guard's gold probe
//   eval.jsonl   {"prompt": "3+15=", "answer": "18"}       test: `pelican eval`
//   sft.jsonl    {"prompt": "7+12=", "completion": "19"}   demonstrations (sft)
//
//   task.kind = pelican-jokes   "Why did the pelican buy a drum? " prompts (reward_service/
//                            pelican_jokes.h), split the same way; train/probe/eval carry the
//                            prompt's thing as "answer". sft.jsonl holds demonstrator punchlines
//                            and preferences.jsonl {"prompt", "chosen", "rejected"} pairs labelled
//                            by the hidden gold rater, for `pelican rm`.
//
// The arithmetic demonstrations are imperfect on purpose, as human ones are: several per sum, and
// each one of a sum with a carry forgets the carry with probability task.carry_slip ("17+5=12").
// SFT then learns the digits but leaves the carry a coin toss it mostly loses, and RL against the
// exact verifier has a real, generalisable mistake to unlearn.
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
  std::string eval;         // the test set of `pelican eval`
  std::string probe;        // the guard's gold probe (validation); may be the eval file
  std::string sft;          // "" when the task has no demonstrations
  std::string preferences;  // pairs for `pelican rm`; "" when the task has none
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
