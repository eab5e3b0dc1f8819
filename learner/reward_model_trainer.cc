#include "learner/reward_model_trainer.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/model/hf_model.h"
#include "common/model/tiny_model.h"
#include "common/status_macros.h"
#include "common/tokenizer/tokenizer.h"
#include "learner/jsonl_lines.h"
#include "learner/optimizer.h"
#include "learner/rollout_batch.h"
#include "learner/task_data.h"
#include "nlohmann/json.hpp"

namespace pelican {
namespace {

constexpr char kAssistantTurn[] = "\n\nAssistant:";

// HH-RLHF: both transcripts share everything up to the last assistant turn.
absl::StatusOr<PreferencePair> SplitTranscripts(const std::string& chosen,
                                                const std::string& rejected) {
  size_t common = 0;
  while (common < chosen.size() && common < rejected.size() && chosen[common] == rejected[common]) {
    ++common;
  }
  // The last marker that lies wholly inside the shared prefix.
  const size_t length = sizeof(kAssistantTurn) - 1;
  const size_t turn =
      common < length ? std::string::npos : chosen.rfind(kAssistantTurn, common - length);
  if (turn == std::string::npos) {
    return absl::InvalidArgumentError(
        "chosen and rejected share no \"\\n\\nAssistant:\" turn to split the prompt at");
  }
  const size_t end = turn + length;
  return PreferencePair{chosen.substr(0, end), chosen.substr(end), rejected.substr(end)};
}

// Scores [2B] of the pairs' chosen rows then rejected rows, [2B] float.
absl::StatusOr<torch::Tensor> PairScores(Transformer& model, const std::vector<PromptGroup>& chosen,
                                         const std::vector<PromptGroup>& rejected, int64_t pad) {
  std::vector<PromptGroup> rows = chosen;
  rows.insert(rows.end(), rejected.begin(), rejected.end());
  ASSIGN_OR_RETURN(RolloutBatch batch, MakeRolloutBatch(rows, pad, 0));
  torch::Tensor hidden = model->Hidden(batch.input_ids, batch.attention_mask);
  return model->SequenceScores(hidden, batch.attention_mask).select(1, 0).to(torch::kFloat);
}

}  // namespace

absl::StatusOr<std::vector<PreferencePair>> ReadPreferencePairs(const std::string& path) {
  std::vector<PreferencePair> pairs;
  RETURN_IF_ERROR(ForEachJsonlObject(path, [&](const nlohmann::json& j, int line) {
    for (const char* key : {"chosen", "rejected"}) {
      if (!j.contains(key) || !j[key].is_string()) {
        return JsonlError(path, line, absl::StrCat("\"", key, "\" must be a string"));
      }
    }
    const std::string chosen = j["chosen"].get<std::string>();
    const std::string rejected = j["rejected"].get<std::string>();
    if (chosen == rejected) return JsonlError(path, line, "chosen and rejected are the same");
    if (j.contains("prompt")) {
      if (!j["prompt"].is_string()) return JsonlError(path, line, "\"prompt\" must be a string");
      pairs.push_back({j["prompt"].get<std::string>(), chosen, rejected});
      return absl::OkStatus();
    }
    absl::StatusOr<PreferencePair> split = SplitTranscripts(chosen, rejected);
    if (!split.ok()) return JsonlError(path, line, std::string(split.status().message()));
    pairs.push_back(*std::move(split));
    return absl::OkStatus();
  }));
  if (pairs.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no pairs"));
  return pairs;
}

absl::StatusOr<RmResult> TrainRewardModel(const v1::RunConfig& config,
                                          std::vector<PreferencePair> pairs) {
  const v1::RmSection& rm = config.rm();
  if (rm.output().empty()) return absl::InvalidArgumentError("rm.output is not set");
  if (pairs.empty()) {
    std::string path = rm.train_file();
    if (path.empty()) {
      ASSIGN_OR_RETURN(TaskFiles files, PrepareTaskData(config.task(), config.run().seed(),
                                                        config.run().dir() + "/data"));
      if (files.preferences.empty()) {
        return absl::InvalidArgumentError(
            "rm.train_file is not set and the task has no built-in preference pairs");
      }
      path = files.preferences;
    }
    ASSIGN_OR_RETURN(pairs, ReadPreferencePairs(path));
  }
  std::mt19937_64 rng(config.run().seed());
  std::shuffle(pairs.begin(), pairs.end(), rng);
  const size_t n_eval = static_cast<size_t>(rm.eval_fraction() * static_cast<double>(pairs.size()));
  if (pairs.size() - n_eval < 1) return absl::InvalidArgumentError("rm: no training pairs left");
  const std::vector<PreferencePair> eval(pairs.end() - static_cast<std::ptrdiff_t>(n_eval),
                                         pairs.end());
  pairs.resize(pairs.size() - n_eval);

  // The model and the tokenizer it shares with the policy.
  std::string init = rm.init();
  std::string tokenizer_path;
  if (init.empty()) {
    tokenizer_path = config.model().tokenizer().empty()
                         ? config.model().policy() + "/tokenizer.json"
                         : config.model().tokenizer();
    ASSIGN_OR_RETURN(std::string tokenizer_json, ReadFile(tokenizer_path));
    ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, Tokenizer::FromJson(tokenizer_json));
    init = rm.output() + ".init";
    TinyModelOptions options;
    options.head = HeadKind::kSequenceClassification;
    if (auto eos = tok->TokenToId(kTinyEndOfText)) options.eos_token_id = *eos;
    if (auto pad = tok->TokenToId(kTinyPad)) options.pad_token_id = *pad;
    RETURN_IF_ERROR(CreateTinyModel(config.model().tiny(), tok->vocab_size(), config.run().seed(),
                                    init, options));
    RETURN_IF_ERROR(WriteFileAtomic(init + "/tokenizer.json", tokenizer_json));
  }
  tokenizer_path = init + "/tokenizer.json";
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::FromFile(tokenizer_path));
  LoadOptions load;
  load.dtype = torch::kFloat32;
  ASSIGN_OR_RETURN(LoadedModel model, LoadModel(init, load));
  if (!model.model->has_score_head()) {
    return absl::InvalidArgumentError(
        absl::StrCat(init,
                     " is not a reward model (no score head); leave rm.init empty for a "
                     "new one"));
  }
  const std::optional<int32_t> eos =
      model.generation.eos_token_ids.empty()
          ? std::nullopt
          : std::optional<int32_t>(static_cast<int32_t>(model.generation.eos_token_ids[0]));
  const int64_t pad = model.generation.pad_token_id.value_or(eos.value_or(0));
  auto encode = [&](const PreferencePair& p, bool chosen) {
    std::vector<int32_t> completion = tokenizer->Encode(chosen ? p.chosen : p.rejected);
    if (eos) completion.push_back(*eos);  // scored at the end of the turn, as the actor samples
    return SingleSampleGroup(tokenizer->EncodeWithSpecial(p.prompt), completion);
  };
  auto accuracy = [&](const std::vector<PreferencePair>& set) -> absl::StatusOr<double> {
    if (set.empty()) return 0.0;
    torch::NoGradGuard no_grad;
    model.model->eval();
    int64_t right = 0;
    for (size_t begin = 0; begin < set.size(); begin += 64) {
      std::vector<PromptGroup> c, r;
      for (size_t i = begin; i < std::min(set.size(), begin + 64); ++i) {
        c.push_back(encode(set[i], true));
        r.push_back(encode(set[i], false));
      }
      ASSIGN_OR_RETURN(torch::Tensor s, PairScores(model.model, c, r, pad));
      const int64_t b = static_cast<int64_t>(c.size());
      right += (s.narrow(0, 0, b) > s.narrow(0, b, b)).sum().item<int64_t>();
    }
    return static_cast<double>(right) / static_cast<double>(set.size());
  };

  RmResult result;
  result.output = rm.output();
  result.train_pairs = pairs.size();
  result.eval_pairs = eval.size();
  ASSIGN_OR_RETURN(result.eval_accuracy_before, accuracy(eval));
  ModelOptimizer adam(model.model->parameters(),
                      OfflineOptimizerSection(config.learner().optimizer(), rm.lr(), rm.steps()),
                      rm.steps());
  OfflineLosses losses;
  size_t cursor = pairs.size();
  for (uint32_t step = 0; step < rm.steps(); ++step) {
    model.model->train();
    std::vector<PromptGroup> chosen, rejected;
    while (chosen.size() < rm.batch_size()) {
      if (cursor == pairs.size()) {
        std::shuffle(pairs.begin(), pairs.end(), rng);
        cursor = 0;
      }
      chosen.push_back(encode(pairs[cursor], true));
      rejected.push_back(encode(pairs[cursor], false));
      ++cursor;
    }
    ASSIGN_OR_RETURN(torch::Tensor scores, PairScores(model.model, chosen, rejected, pad));
    const int64_t b = static_cast<int64_t>(chosen.size());
    RETURN_IF_ERROR(OfflineStep(
        adam, -torch::log_sigmoid(scores.narrow(0, 0, b) - scores.narrow(0, b, b)).mean(), step,
        rm.steps(), "rm", &losses));
  }
  result.first_loss = losses.first;
  result.last_loss = losses.last;
  result.steps = losses.steps;
  ASSIGN_OR_RETURN(result.eval_accuracy, accuracy(eval));
  model.model->eval();
  RETURN_IF_ERROR(SaveModel(rm.output(), model.model, model.generation));
  ASSIGN_OR_RETURN(std::string tokenizer_json, ReadFile(tokenizer_path));
  RETURN_IF_ERROR(WriteFileAtomic(rm.output() + "/tokenizer.json", tokenizer_json));
  return result;
}

}  // namespace pelican
