#include "reward_service/reward_model_scorer.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/metrics.h"
#include "common/status_macros.h"

namespace pelican::reward {
namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Feeds the bytes of `path` into `hash` in 1 MiB chunks.
absl::Status HashFile(const std::string& path, Sha256& hash) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) hash.Update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return absl::OkStatus();
}

// Why sample `in` cannot be scored by a model with `config`, or nullopt when it can.
std::optional<absl::Status> SampleError(const ScoreInput& in, const ModelConfig& config,
                                        const std::string& path) {
  const size_t length = in.prompt_ids.size() + in.completion_ids.size();
  if (length == 0) return absl::InvalidArgumentError("reward model: empty prompt and completion");
  if (config.max_position_embeddings > 0 &&
      static_cast<int64_t>(length) > config.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat("reward model ", path, ": ", length,
                                                   " tokens exceed max_position_embeddings ",
                                                   config.max_position_embeddings));
  }
  for (absl::Span<const int32_t> part : {in.prompt_ids, in.completion_ids}) {
    for (int32_t id : part) {
      if (id < 0 || id >= config.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("reward model ", path, ": token id ", id,
                                                       " is outside its vocabulary [0, ",
                                                       config.vocab_size, ")"));
      }
    }
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::string> WeightsVersion(const std::string& dir) {
  Sha256 hash;
  const std::string single = absl::StrCat(dir, "/model.safetensors");
  const std::string index = absl::StrCat(dir, "/model.safetensors.index.json");
  if (IsFile(single)) {
    RETURN_IF_ERROR(HashFile(single, hash));
  } else if (IsFile(index)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(index));
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      return absl::DataLossError(absl::StrCat(index, ": not an index with a \"weight_map\""));
    }
    std::set<std::string> shards;  // name order
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) {
        return absl::DataLossError(
            absl::StrCat(index, ": weight_map[\"", name, "\"] is not a file"));
      }
      shards.insert(file.get<std::string>());
    }
    hash.Update(text.data(), text.size());
    for (const std::string& shard : shards) {
      if (shard.find('/') != std::string::npos) {
        return absl::DataLossError(
            absl::StrCat(index, ": shard \"", shard, "\" is not a file name"));
      }
      RETURN_IF_ERROR(HashFile(absl::StrCat(dir, "/", shard), hash));
    }
  } else {
    return absl::NotFoundError(absl::StrCat(dir, ": no model.safetensors or index"));
  }
  return hash.HexDigest().substr(0, 16);
}

absl::StatusOr<std::unique_ptr<RewardModelScorer>> RewardModelScorer::Create(
    std::string name, const std::vector<std::string>& paths,
    const RewardModelScorerOptions& options) {
  if (paths.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward model scorer '", name, "': no model paths"));
  }
  std::unique_ptr<RewardModelScorer> scorer(new RewardModelScorer());
  scorer->name_ = std::move(name);
  LoadOptions load = options.load;
  load.value_head = false;
  for (const std::string& path : paths) {
    absl::StatusOr<LoadedModel> loaded = LoadModel(path, load);
    if (!loaded.ok()) return Annotate(loaded.status(), absl::StrCat("reward model ", path));
    if (loaded->config.head != HeadKind::kSequenceClassification ||
        !loaded->model->has_score_head()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "reward model ", path,
          ": not a *ForSequenceClassification model (a reward model needs a score head)"));
    }
    if (loaded->config.num_labels != 1) {
      return absl::InvalidArgumentError(absl::StrCat("reward model ", path, ": num_labels is ",
                                                     loaded->config.num_labels, ", expected 1"));
    }
    ASSIGN_OR_RETURN(std::string version, WeightsVersion(path));
    v1::RewardModelInfo info;
    info.set_name(scorer->name_);
    info.set_path(path);
    info.set_version(version);
    scorer->infos_.push_back(std::move(info));
    scorer->models_.push_back(Model{path, *std::move(loaded)});
  }
  if (options.registry != nullptr) {
    scorer->forward_seconds_ = &prometheus::BuildHistogram()
                                    .Name("pelican_reward_model_forward_seconds")
                                    .Help("Reward-model forward time per batch and model")
                                    .Register(*options.registry)
                                    .Add({{"scorer", scorer->name_}}, LatencyBucketsSeconds());
  }
  return scorer;
}

torch::Tensor RewardModelScorer::Forward(Model& model, const torch::Tensor& ids,
                                         const torch::Tensor& mask) {
  torch::NoGradGuard no_grad;
  Transformer& m = model.loaded.model;
  const torch::Tensor dev_ids = ids.to(m->device());
  const torch::Tensor dev_mask = mask.to(m->device());
  const torch::Tensor hidden = m->Hidden(dev_ids, dev_mask);         // [N, T, H]
  const torch::Tensor scores = m->SequenceScores(hidden, dev_mask);  // [N, 1]
  return scores.squeeze(-1).to(torch::kCPU, torch::kFloat64);        // [N]
}

std::vector<absl::StatusOr<ScoreValue>> RewardModelScorer::ScoreBatch(
    absl::Span<const ScoreInput> batch) {
  std::vector<absl::StatusOr<ScoreValue>> results(batch.size(),
                                                  absl::InternalError("reward model: not scored"));
  // Rows every model can score; the others get the first model's objection.
  std::vector<size_t> rows;
  int64_t longest = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    std::optional<absl::Status> error;
    for (const Model& m : models_) {
      error = SampleError(batch[i], m.loaded.config, m.path);
      if (error.has_value()) break;
    }
    if (error.has_value()) {
      results[i] = *std::move(error);
      continue;
    }
    rows.push_back(i);
    longest = std::max<int64_t>(
        longest, static_cast<int64_t>(batch[i].prompt_ids.size() + batch[i].completion_ids.size()));
  }
  if (rows.empty()) return results;

  // ids, mask [N, T], right-padded with id 0 (in every vocabulary; masked out anyway).
  const int64_t n = static_cast<int64_t>(rows.size());
  torch::Tensor ids = torch::zeros({n, longest}, torch::kInt64);
  torch::Tensor mask = torch::zeros({n, longest}, torch::kInt64);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  for (int64_t r = 0; r < n; ++r) {
    const ScoreInput& in = batch[rows[r]];
    int64_t t = 0;
    for (absl::Span<const int32_t> part : {in.prompt_ids, in.completion_ids}) {
      for (int32_t id : part) {
        ids_a[r][t] = id;
        mask_a[r][t] = 1;
        ++t;
      }
    }
  }

  // scores[k][r]: model k's score of row r.
  std::vector<std::vector<double>> scores;
  scores.reserve(models_.size());
  for (Model& m : models_) {
    const auto start = std::chrono::steady_clock::now();
    try {
      torch::Tensor s = Forward(m, ids, mask).contiguous();  // [N]
      scores.emplace_back(s.data_ptr<double>(), s.data_ptr<double>() + n);
    } catch (const c10::Error& e) {
      const absl::Status error = absl::InternalError(
          absl::StrCat("reward model ", m.path, ": forward failed: ", e.what_without_backtrace()));
      for (size_t i : rows) results[i] = error;
      return results;
    }
    if (forward_seconds_ != nullptr) {
      forward_seconds_->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }

  const double k = static_cast<double>(models_.size());
  for (int64_t r = 0; r < n; ++r) {
    double sum = 0.0;
    for (const auto& s : scores) sum += s[r];
    const double mean = sum / k;
    double sq = 0.0;
    for (const auto& s : scores) sq += (s[r] - mean) * (s[r] - mean);
    const double std = std::sqrt(sq / k);  // population std; 0 for one model
    if (!std::isfinite(mean) || !std::isfinite(std)) {
      results[rows[r]] = absl::InternalError("reward model: score is not finite");
    } else {
      results[rows[r]] = ScoreValue(mean, std);
    }
  }
  return results;
}

void RegisterRewardModelScorer(ScorerRegistry& registry, RewardModelScorerOptions options,
                               std::function<void(const RewardModelScorer&)> on_built) {
  registry.Register(
      v1::ScorerSpec::kRewardModel,
      [options, on_built](const v1::ScorerSpec& spec) -> absl::StatusOr<std::unique_ptr<Scorer>> {
        const std::vector<std::string> paths(spec.reward_model().paths().begin(),
                                             spec.reward_model().paths().end());
        ASSIGN_OR_RETURN(std::unique_ptr<RewardModelScorer> scorer,
                         RewardModelScorer::Create(spec.name(), paths, options));
        if (on_built) on_built(*scorer);
        return std::unique_ptr<Scorer>(std::move(scorer));
      });
}

}  // namespace pelican::reward
