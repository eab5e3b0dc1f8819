#include "common/model/hf_model.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

using Json = nlohmann::json;

constexpr char kSingleFile[] = "model.safetensors";
constexpr char kIndexFile[] = "model.safetensors.index.json";

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A shard name from an index must name a file inside the directory.
bool SafeShardName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != ".." &&
         absl::EndsWith(name, ".safetensors");
}

// The open weight files of a directory and which one holds each tensor.
struct WeightFiles {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, const SafetensorsFile*> where;
};

absl::StatusOr<std::vector<std::string>> IndexShardFiles(const std::string& index_path,
                                                         std::map<std::string, std::string>* map) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(index_path));
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") ||
      !j["weight_map"].is_object()) {
    return absl::DataLossError(index_path + ": not an index with a \"weight_map\" object");
  }
  std::set<std::string> files;
  for (const auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string() || !SafeShardName(file.get<std::string>())) {
      return absl::DataLossError(
          absl::StrCat(index_path, ": weight_map entry \"", name, "\" is not a shard file name"));
    }
    files.insert(file.get<std::string>());
    if (map != nullptr) (*map)[name] = file.get<std::string>();
  }
  return std::vector<std::string>(files.begin(), files.end());
}

absl::StatusOr<WeightFiles> OpenWeights(const std::string& dir) {
  WeightFiles w;
  const std::string single = absl::StrCat(dir, "/", kSingleFile);
  if (Exists(single)) {
    ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(single));
    for (const auto& e : file->entries()) w.where[e.name] = file.get();
    w.files.push_back(std::move(file));
    return w;
  }
  const std::string index = absl::StrCat(dir, "/", kIndexFile);
  if (!Exists(index)) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": neither ", kSingleFile, " nor ", kIndexFile, " (no weights)"));
  }
  std::map<std::string, std::string> map;
  ASSIGN_OR_RETURN(std::vector<std::string> shards, IndexShardFiles(index, &map));
  std::map<std::string, const SafetensorsFile*> by_name;
  for (const std::string& shard : shards) {
    ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(absl::StrCat(dir, "/", shard)));
    by_name[shard] = file.get();
    w.files.push_back(std::move(file));
  }
  for (const auto& [name, shard] : map) {
    const SafetensorsFile* file = by_name[shard];
    if (file->Find(name) == nullptr) {
      return absl::DataLossError(absl::StrCat(index, ": tensor \"", name, "\" is listed in ", shard,
                                              " but that file does not hold it"));
    }
    w.where[name] = file;
  }
  return w;
}

// Tensors a checkpoint may carry that the model rightly does not use: HF's RoPE buffers, lm_head
// when tied (HF overwrites it too), and a value head nobody asked for (the policy and the frozen
// reference load the same checkpoint as the critic).
bool Ignorable(const std::string& name, const ModelConfig& config) {
  return absl::EndsWith(name, "rotary_emb.inv_freq") ||
         (name == "lm_head.weight" && config.tie_word_embeddings) ||
         absl::StartsWith(name, "v_head.");
}

std::string ShapeString(torch::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes.vec(), ", "), "]");
}

}  // namespace

absl::StatusOr<LoadedModel> LoadModel(const std::string& dir, const LoadOptions& options) {
  LoadedModel out;
  const std::string config_path = absl::StrCat(dir, "/config.json");
  ASSIGN_OR_RETURN(std::string config_text, ReadFile(config_path));
  auto config = ParseModelConfig(config_text);
  if (!config.ok()) return Annotate(config.status(), config_path);
  out.config = *config;

  out.generation = {config->bos_token_id, config->eos_token_ids, config->pad_token_id};
  const std::string gen_path = absl::StrCat(dir, "/generation_config.json");
  if (Exists(gen_path)) {
    ASSIGN_OR_RETURN(std::string gen_text, ReadFile(gen_path));
    auto gen = ParseGenerationConfig(gen_text);
    if (!gen.ok()) return Annotate(gen.status(), gen_path);
    if (gen->bos_token_id) out.generation.bos_token_id = gen->bos_token_id;
    if (!gen->eos_token_ids.empty()) out.generation.eos_token_ids = gen->eos_token_ids;
    if (gen->pad_token_id) out.generation.pad_token_id = gen->pad_token_id;
  }

  const torch::ScalarType dtype = options.dtype.value_or(config->torch_dtype);
  if (dtype == torch::kFloat16 && options.device.is_cpu()) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir,
        ": float16 on the CPU is not supported (LibTorch's CPU matmul lacks it); load it as "
        "float32 or bfloat16"));
  }
  out.model = Transformer(*config, torch::TensorOptions().dtype(dtype).device(options.device),
                          HeadOptions{options.value_head});
  out.model->eval();
  ASSIGN_OR_RETURN(WeightFiles weights, OpenWeights(dir));

  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& item : out.model->named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& param = item.value();
    auto it = weights.where.find(name);
    if (it == weights.where.end()) {
      if (absl::StartsWith(name, "v_head.")) {
        param.zero_();  // a fresh critic head: values start at 0
        continue;
      }
      return absl::NotFoundError(absl::StrCat(dir, ": checkpoint has no tensor \"", name,
                                              "\", which ", config->architectures[0], " needs"));
    }
    ASSIGN_OR_RETURN(torch::Tensor t, it->second->Read(name));
    if (t.sizes() != param.sizes() || !t.is_floating_point()) {
      return absl::DataLossError(absl::StrCat(
          dir, ": tensor \"", name, "\" is ", ShapeString(t.sizes()), " ",
          c10::toString(t.scalar_type()), "; config.json implies ", ShapeString(param.sizes())));
    }
    param.copy_(t);
    used.insert(name);
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, file] : weights.where) {
    if (!used.count(name) && !Ignorable(name, *config)) unexpected.push_back(name);
  }
  if (!unexpected.empty()) {
    if (unexpected.size() > 5) unexpected.resize(5);
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": checkpoint has tensors a ", config->architectures[0],
                     " does not use (config.json mismatch?): ", absl::StrJoin(unexpected, ", ")));
  }
  return out;
}

absl::StatusOr<TensorMap> ReadModelTensors(const std::string& dir) {
  ASSIGN_OR_RETURN(WeightFiles weights, OpenWeights(dir));
  TensorMap out;
  for (const auto& [name, file] : weights.where) {
    ASSIGN_OR_RETURN(out[name], file->Read(name));
  }
  return out;
}

absl::Status WriteModelTensors(const std::string& dir, const TensorMap& tensors,
                               const SaveOptions& options) {
  RETURN_IF_ERROR(MakeDirs(dir));
  const std::string index_path = absl::StrCat(dir, "/", kIndexFile);
  const std::string single_path = absl::StrCat(dir, "/", kSingleFile);
  std::vector<std::string> old_shards;
  if (Exists(index_path)) {
    auto listed = IndexShardFiles(index_path, nullptr);
    if (listed.ok()) old_shards = *listed;
  }
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};  // transformers checks it
  int64_t total = 0;
  for (const auto& [name, t] : tensors) total += static_cast<int64_t>(t.nbytes());

  std::set<std::string> written;
  if (total <= options.max_shard_bytes) {
    RETURN_IF_ERROR(WriteSafetensors(single_path, tensors, metadata));
    written.insert(kSingleFile);
  } else {
    std::vector<TensorMap> shards(1);
    int64_t shard_bytes = 0;
    for (const auto& [name, t] : tensors) {
      const int64_t bytes = static_cast<int64_t>(t.nbytes());
      if (!shards.back().empty() && shard_bytes + bytes > options.max_shard_bytes) {
        shards.emplace_back();
        shard_bytes = 0;
      }
      shards.back()[name] = t;
      shard_bytes += bytes;
    }
    Json weight_map = Json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
      char file[64];
      std::snprintf(file, sizeof(file), "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      RETURN_IF_ERROR(WriteSafetensors(absl::StrCat(dir, "/", file), shards[i], metadata));
      for (const auto& [name, t] : shards[i]) weight_map[name] = file;
      written.insert(file);
    }
    ::unlink(single_path.c_str());  // it would take precedence over the index
    Json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    RETURN_IF_ERROR(WriteFileAtomic(index_path, index.dump(2) + "\n"));
    written.insert(kIndexFile);
  }
  for (const std::string& shard : old_shards) {
    if (!written.count(shard)) ::unlink(absl::StrCat(dir, "/", shard).c_str());
  }
  if (!written.count(kIndexFile)) ::unlink(index_path.c_str());
  return SyncPath(dir);
}

absl::Status SaveModel(const std::string& dir, Transformer& model,
                       const GenerationConfig& generation, const SaveOptions& options) {
  ModelConfig config = model->config();
  config.torch_dtype = model->dtype();
  RETURN_IF_ERROR(MakeDirs(dir));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/config.json"), ModelConfigToJson(config)));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/generation_config.json"),
                                  GenerationConfigToJson(generation)));
  TensorMap tensors;
  for (const auto& item : model->named_parameters()) tensors[item.key()] = item.value().detach();
  return WriteModelTensors(dir, tensors, options);
}

}  // namespace pelican
