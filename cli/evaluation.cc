#include "cli/evaluation.h"

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/model/generate.h"
#include "common/model/hf_model.h"
#include "common/status_macros.h"
#include "common/text_stats.h"
#include "common/tokenizer/tokenizer.h"
#include "learner/prompt_source.h"
#include "learner/task_data.h"
#include "nlohmann/json.hpp"
#include "reward_service/composite_scorer.h"
#include "reward_service/reward_model_scorer.h"
#include "reward_service/scorer_factory.h"

namespace pelican::cli {

absl::StatusOr<EvalResult> EvaluatePolicy(const v1::RunConfig& config, const std::string& model_dir,
                                          const std::string& run_dir) {
  ASSIGN_OR_RETURN(TaskFiles files,
                   PrepareTaskData(config.task(), config.run().seed(), run_dir + "/data"));
  if (files.eval.empty()) {
    return absl::InvalidArgumentError("the task has no held-out set (task.eval_file)");
  }
  ASSIGN_OR_RETURN(
      std::vector<TextPair> examples,
      ReadTextPairs(files.eval, config.task().prompt_key(), config.task().reference_key()));
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                   Tokenizer::FromFile(TokenizerPath(config.model(), model_dir)));
  ASSIGN_OR_RETURN(LoadedModel model, LoadModel(model_dir));

  reward::ScorerRegistry registry;
  reward::RegisterRewardModelScorer(registry, {}, nullptr);
  ASSIGN_OR_RETURN(std::unique_ptr<reward::ScorerSet> scorers,
                   reward::BuildScorerSet(config.reward(), registry));

  GenerateOptions options;
  options.sampling = SamplingFromProto(config.actors().sampling(), model.generation.eos_token_ids);
  options.sampling.temperature = 0.0;  // greedy: the policy's best answer
  options.sampling.n = 1;
  options.pad_token_id = model.generation.pad_token_id.value_or(0);
  at::Generator gen = at::detail::createCPUGenerator(config.run().seed());

  EvalResult result;
  std::vector<std::vector<int32_t>> completions_ids;
  constexpr size_t kChunk = 64;
  for (size_t begin = 0; begin < examples.size(); begin += kChunk) {
    const size_t end = std::min(examples.size(), begin + kChunk);
    std::vector<std::vector<int32_t>> prompts;
    for (size_t i = begin; i < end; ++i) {
      prompts.push_back(tokenizer->EncodeWithSpecial(examples[i].prompt));
    }
    ASSIGN_OR_RETURN(std::vector<Completion> completions,
                     Generate(model.model, prompts, options, gen));
    std::vector<google::protobuf::Map<std::string, std::string>> metadata(end - begin);
    std::vector<reward::ScoreInput> inputs(end - begin);
    for (size_t k = 0; k < completions.size(); ++k) {
      const Completion& c = completions[k];
      const size_t i = begin + static_cast<size_t>(c.prompt_index);
      metadata[k][kReferenceKey] = examples[i].second;
      reward::ScoreInput& in = inputs[k];
      in.prompt_ids = prompts[c.prompt_index];
      in.completion_ids = c.token_ids;
      in.prompt_text = examples[i].prompt;
      ASSIGN_OR_RETURN(std::string text, tokenizer->Decode(c.token_ids, true));
      in.completion_text = text;
      in.metadata = &metadata[k];
      in.stopped = c.finish_reason == v1::FINISH_REASON_STOP;
      result.samples.push_back({examples[i].prompt, text, examples[i].second, 0.0});
    }
    std::vector<reward::CompositeResult> scored = scorers->default_scorer().Score(inputs);
    for (size_t k = 0; k < scored.size(); ++k) {
      if (!scored[k].status.ok()) {
        return Annotate(scored[k].status, absl::StrCat("scoring eval example ", begin + k + 1, " (",
                                                       examples[begin + k].prompt, ")"));
      }
      result.samples[begin + k].score = scored[k].total;
      result.score += scored[k].total;
    }
    for (Completion& c : completions) completions_ids.push_back(std::move(c.token_ids));
  }
  result.examples = static_cast<int64_t>(examples.size());
  result.score /= static_cast<double>(examples.size());
  ASSIGN_OR_RETURN(TextStats stats, ComputeTextStats(completions_ids, 2));
  result.distinct_2 = stats.distinct_n;
  result.mean_length = stats.mean_length;
  return result;
}

std::string EvalJson(const EvalResult& result, const std::string& model_dir) {
  return nlohmann::json{{"score", result.score},
                        {"distinct_2", result.distinct_2},
                        {"mean_length", result.mean_length},
                        {"examples", result.examples},
                        {"checkpoint", model_dir}}
      .dump();
}

}  // namespace pelican::cli
