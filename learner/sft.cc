#include "learner/sft.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/model/hf_model.h"
#include "common/model/tiny_model.h"
#include "common/status_macros.h"
#include "common/tokenizer/tokenizer.h"
#include "learner/masked.h"
#include "learner/optimizer.h"
#include "learner/rl_trainer.h"
#include "learner/rollout_batch.h"
#include "learner/task_data.h"

namespace pelican {

absl::StatusOr<SftResult> RunSft(const v1::RunConfig& config, const std::string& run_dir) {
  const v1::SftSection& sft = config.sft();
  const std::string output = sft.output().empty() ? config.model().policy() : sft.output();
  if (output.empty()) {
    return absl::InvalidArgumentError(
        "sft.output and model.policy are both empty: nowhere to "
        "write the fine-tuned model");
  }
  std::string demo_file = sft.train_file();
  if (demo_file.empty()) {
    ASSIGN_OR_RETURN(TaskFiles files,
                     PrepareTaskData(config.task(), config.run().seed(), run_dir + "/data"));
    if (files.sft.empty()) {
      return absl::InvalidArgumentError(
          "sft.train_file is not set and the task has no built-in demonstrations");
    }
    demo_file = files.sft;
  }
  ASSIGN_OR_RETURN(std::vector<TextPair> demos,
                   ReadTextPairs(demo_file, sft.prompt_key(), sft.completion_key()));

  std::string init = sft.init();
  if (init.empty()) {
    init = run_dir + "/init";
    ASSIGN_OR_RETURN(
        std::string tokenizer_json,
        CreateTinyModelWithTokenizer(
            config.model().tiny(), TaskTokenizerCorpus(config.task(), config.run().seed()),
            static_cast<int>(sft.vocab_size()), config.run().seed(), init));
    (void)tokenizer_json;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                   Tokenizer::FromFile(init + "/tokenizer.json"));
  LoadOptions load;
  load.dtype = torch::kFloat32;
  ASSIGN_OR_RETURN(LoadedModel model, LoadModel(init, load));
  if (model.generation.eos_token_ids.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(init,
                                                   " has no EOS token id: completions "
                                                   "could never learn to stop"));
  }
  const int32_t eos = static_cast<int32_t>(model.generation.eos_token_ids.front());
  const int64_t pad = model.generation.pad_token_id.value_or(eos);

  // Every demonstration as a one-sample prompt group, so RolloutBatch does the padding.
  std::vector<PromptGroup> all;
  for (const TextPair& demo : demos) {
    std::vector<int32_t> completion = tokenizer->Encode(demo.second);
    completion.push_back(eos);
    all.push_back(SingleSampleGroup(tokenizer->EncodeWithSpecial(demo.prompt), completion));
  }

  ModelOptimizer adam(model.model->parameters(),
                      OfflineOptimizerSection(config.learner().optimizer(), sft.lr(), sft.steps()),
                      sft.steps());
  OfflineLosses losses;
  model.model->train();
  std::mt19937_64 rng(config.run().seed());
  std::vector<size_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  size_t cursor = order.size();
  SftResult result;
  result.output = output;
  result.examples = demos.size();
  for (uint32_t step = 0; step < sft.steps(); ++step) {
    std::vector<PromptGroup> batch_groups;
    while (batch_groups.size() < sft.batch_size()) {
      if (cursor == order.size()) {
        std::shuffle(order.begin(), order.end(), rng);
        cursor = 0;
      }
      batch_groups.push_back(all[order[cursor++]]);
    }
    ASSIGN_OR_RETURN(RolloutBatch batch, MakeRolloutBatch(batch_groups, pad, 0));
    ASSIGN_OR_RETURN(CompletionOutputs out,
                     ForwardCompletions(model.model, batch, 1.0, true, false, false));
    RETURN_IF_ERROR(OfflineStep(adam, -MaskedMean(out.logprobs, batch.completion_mask), step,
                                sft.steps(), "sft", &losses));
  }
  result.first_loss = losses.first;
  result.last_loss = losses.last;
  result.steps = losses.steps;
  model.model->eval();
  RETURN_IF_ERROR(SaveModel(output, model.model, model.generation));
  ASSIGN_OR_RETURN(std::string tokenizer_json, ReadFile(init + "/tokenizer.json"));
  RETURN_IF_ERROR(WriteFileAtomic(output + "/tokenizer.json", tokenizer_json));
  return result;
}

}  // namespace pelican
