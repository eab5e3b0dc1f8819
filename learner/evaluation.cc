#include "learner/evaluation.h"

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
#include "reward_service/reward_model_scorer.h"
#include "reward_service/scorer_factory.h"

namespace pelican {
namespace {

// Puts a model in eval mode for a scope, then back in the mode it had.
class EvalModeScope {
 public:
  explicit EvalModeScope(Transformer& model) : model_(model), was_training_(model->is_training()) {
    model_->eval();
  }
  ~EvalModeScope() { model_->train(was_training_); }

 private:
  Transformer& model_;
  const bool was_training_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HeldOutEvaluator>> HeldOutEvaluator::Create(
    const v1::RunConfig& config, const std::string& tokenizer_path, const std::string& run_dir,
    Set set) {
  std::unique_ptr<HeldOutEvaluator> e(new HeldOutEvaluator());
  e->config_ = config;
  ASSIGN_OR_RETURN(TaskFiles files,
                   PrepareTaskData(config.task(), config.run().seed(), run_dir + "/data"));
  const std::string& path = set == Set::kProbe ? files.probe : files.eval;
  if (path.empty()) {
    return absl::InvalidArgumentError("the task has no held-out set (task.eval_file)");
  }
  ASSIGN_OR_RETURN(e->examples_,
                   ReadTextPairs(path, config.task().prompt_key(), config.task().reference_key()));
  ASSIGN_OR_RETURN(e->tokenizer_, Tokenizer::FromFile(tokenizer_path));
  reward::ScorerRegistry registry;
  reward::RegisterRewardModelScorer(registry, {}, nullptr);
  ASSIGN_OR_RETURN(e->scorers_, reward::BuildScorerSet(config.reward(), registry));
  if (config.guard().gold_size() > 0) {
    v1::RewardSection gold = config.reward();
    *gold.mutable_scorers() = config.guard().gold();
    ASSIGN_OR_RETURN(e->gold_, reward::BuildScorerSet(gold, registry));
  }
  return e;
}

absl::StatusOr<EvalResult> HeldOutEvaluator::Evaluate(Transformer& model,
                                                      const GenerationConfig& generation) const {
  torch::NoGradGuard no_grad;
  EvalModeScope eval_mode(model);
  GenerateOptions options;
  options.sampling = SamplingFromProto(config_.actors().sampling(), generation.eos_token_ids);
  options.sampling.temperature = 0.0;  // greedy: the policy's best answer
  options.sampling.n = 1;
  options.pad_token_id = generation.pad_token_id.value_or(0);
  at::Generator gen = at::detail::createCPUGenerator(config_.run().seed());

  EvalResult result;
  std::vector<std::vector<int32_t>> completions_ids;
  constexpr size_t kChunk = 64;
  for (size_t begin = 0; begin < examples_.size(); begin += kChunk) {
    const size_t end = std::min(examples_.size(), begin + kChunk);
    std::vector<std::vector<int32_t>> prompts;
    for (size_t i = begin; i < end; ++i) {
      prompts.push_back(tokenizer_->EncodeWithSpecial(examples_[i].prompt));
    }
    ASSIGN_OR_RETURN(std::vector<Completion> completions, Generate(model, prompts, options, gen));
    std::vector<google::protobuf::Map<std::string, std::string>> metadata(end - begin);
    std::vector<reward::ScoreInput> inputs(end - begin);
    for (size_t k = 0; k < completions.size(); ++k) {
      const Completion& c = completions[k];
      const size_t i = begin + static_cast<size_t>(c.prompt_index);
      metadata[k][kReferenceKey] = examples_[i].second;
      reward::ScoreInput& in = inputs[k];
      in.prompt_ids = prompts[c.prompt_index];
      in.completion_ids = c.token_ids;
      in.prompt_text = examples_[i].prompt;
      ASSIGN_OR_RETURN(std::string text, tokenizer_->Decode(c.token_ids, true));
      in.completion_text = text;
      in.metadata = &metadata[k];
      in.stopped = c.finish_reason == v1::FINISH_REASON_STOP;
      result.samples.push_back({examples_[i].prompt, text, examples_[i].second, 0.0});
    }
    const auto score = [&](reward::ScorerSet& set, double EvalSample::*field,
                           double* sum) -> absl::Status {
      std::vector<reward::CompositeResult> scored = set.default_scorer().Score(inputs);
      for (size_t k = 0; k < scored.size(); ++k) {
        if (!scored[k].status.ok()) {
          return Annotate(scored[k].status, absl::StrCat("scoring eval example ", begin + k + 1,
                                                         " (", examples_[begin + k].prompt, ")"));
        }
        result.samples[begin + k].*field = scored[k].total;
        *sum += scored[k].total;
      }
      return absl::OkStatus();
    };
    if (gold_) {
      RETURN_IF_ERROR(score(*gold_, &EvalSample::score, &result.score));
      RETURN_IF_ERROR(score(*scorers_, &EvalSample::reward, &result.reward));
    } else {
      RETURN_IF_ERROR(score(*scorers_, &EvalSample::score, &result.score));
    }
    for (Completion& c : completions) completions_ids.push_back(std::move(c.token_ids));
  }
  result.examples = static_cast<int64_t>(examples_.size());
  result.score /= static_cast<double>(examples_.size());
  result.reward /= static_cast<double>(examples_.size());
  result.has_gold = gold_ != nullptr;
  ASSIGN_OR_RETURN(TextStats stats, ComputeTextStats(completions_ids, 2));
  result.distinct_2 = stats.distinct_n;
  result.mean_length = stats.mean_length;
  return result;
}

absl::StatusOr<EvalResult> EvaluatePolicy(const v1::RunConfig& config, const std::string& model_dir,
                                          const std::string& run_dir) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<HeldOutEvaluator> evaluator,
      HeldOutEvaluator::Create(config, TokenizerPath(config.model(), model_dir), run_dir));
  ASSIGN_OR_RETURN(LoadedModel model, LoadModel(model_dir));
  return evaluator->Evaluate(model.model, model.generation);
}

std::vector<EvalSample> HighRewardLowGold(const EvalResult& result, double reward_floor,
                                          double gold_limit) {
  std::vector<EvalSample> out;
  if (!result.has_gold) return out;
  for (const EvalSample& s : result.samples) {
    if (s.reward > reward_floor && s.score < gold_limit) out.push_back(s);
  }
  return out;
}

std::string EvalJson(const EvalResult& result, const std::string& model_dir) {
  nlohmann::json j{{"score", result.score},
                   {"distinct_2", result.distinct_2},
                   {"mean_length", result.mean_length},
                   {"examples", result.examples},
                   {"checkpoint", model_dir}};
  if (result.has_gold) j["reward"] = result.reward;
  return j.dump();
}

}  // namespace pelican
