#include "common/model/model_config.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

using Json = nlohmann::json;

// Limits that keep a hostile config.json from asking for absurd allocations.
constexpr int64_t kMaxWidth = int64_t{1} << 20;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxVocab = int64_t{1} << 24;

absl::Status KeyError(absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("config key ", key, ": ", what));
}

bool Present(const Json& j, const char* key) { return j.contains(key) && !j.at(key).is_null(); }

absl::StatusOr<int64_t> Int(const Json& j, const char* key, std::optional<int64_t> fallback,
                            int64_t lo, int64_t hi) {
  if (!Present(j, key)) {
    if (fallback.has_value()) return *fallback;
    return KeyError(key, "missing");
  }
  const Json& v = j.at(key);
  if (!v.is_number_integer()) return KeyError(key, "not an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi)) {
    return KeyError(key, absl::StrCat("out of range [", lo, ", ", hi, "]"));
  }
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) return KeyError(key, absl::StrCat(x, " out of range [", lo, ", ", hi, "]"));
  return x;
}

absl::StatusOr<double> Double(const Json& j, const char* key, double fallback) {
  if (!Present(j, key)) return fallback;
  const Json& v = j.at(key);
  if (!v.is_number()) return KeyError(key, "not a number");
  return v.get<double>();
}

absl::StatusOr<bool> Bool(const Json& j, const char* key, bool fallback) {
  if (!Present(j, key)) return fallback;
  const Json& v = j.at(key);
  if (!v.is_boolean()) return KeyError(key, "not a boolean");
  return v.get<bool>();
}

absl::StatusOr<std::optional<int64_t>> OptionalId(const Json& j, const char* key) {
  if (!Present(j, key)) return std::optional<int64_t>();
  ASSIGN_OR_RETURN(int64_t id, Int(j, key, std::nullopt, 0, kMaxVocab));
  return std::optional<int64_t>(id);
}

// eos_token_id: an int, a list of ints, or absent/null.
absl::StatusOr<std::vector<int64_t>> IdList(const Json& j, const char* key) {
  std::vector<int64_t> ids;
  if (!Present(j, key)) return ids;
  const Json& v = j.at(key);
  if (v.is_array()) {
    for (const Json& e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() > kMaxVocab) {
        return KeyError(key, "list holds a value that is not a token id");
      }
      ids.push_back(e.get<int64_t>());
    }
    return ids;
  }
  ASSIGN_OR_RETURN(int64_t id, Int(j, key, std::nullopt, 0, kMaxVocab));
  ids.push_back(id);
  return ids;
}

Json IdListJson(const std::vector<int64_t>& ids) {
  if (ids.empty()) return nullptr;
  if (ids.size() == 1) return ids[0];
  return ids;
}

Json OptionalIdJson(const std::optional<int64_t>& id) {
  return id.has_value() ? Json(*id) : Json(nullptr);
}

// transformers >= 5 writes RoPE as "rope_parameters" (rope_theta inside it); earlier versions and
// most checkpoints on the Hub as "rope_scaling" beside a top-level "rope_theta". Either is read.
const char* RopeKey(const Json& j) {
  return Present(j, "rope_parameters") ? "rope_parameters" : "rope_scaling";
}

absl::StatusOr<double> ParseRopeTheta(const Json& j) {
  if (!Present(j, "rope_theta") && Present(j, "rope_parameters") &&
      j.at("rope_parameters").is_object() && Present(j.at("rope_parameters"), "rope_theta")) {
    absl::StatusOr<double> theta = Double(j.at("rope_parameters"), "rope_theta", 10000.0);
    if (!theta.ok()) return KeyError("rope_parameters.rope_theta", "not a number");
    return theta;
  }
  return Double(j, "rope_theta", 10000.0);
}

absl::StatusOr<RopeScaling> ParseRopeScaling(const Json& j) {
  RopeScaling r;
  const std::string key = RopeKey(j);
  if (!Present(j, key.c_str())) return r;
  const Json& s = j.at(key);
  if (!s.is_object()) return KeyError(key, "not an object");
  std::string type;
  for (const char* name : {"rope_type", "type"}) {
    if (Present(s, name) && s.at(name).is_string()) {
      type = s.at(name).get<std::string>();
      break;
    }
  }
  if (type == "default" || (type.empty() && key == "rope_parameters")) return r;
  if (type != "linear" && type != "llama3") {
    return KeyError(
        key + ".rope_type",
        absl::StrCat("'", type, "' is not supported (supported: default, linear, llama3)"));
  }
  r.type = type == "linear" ? RopeScaling::Type::kLinear : RopeScaling::Type::kLlama3;
  ASSIGN_OR_RETURN(r.factor, Double(s, "factor", 0.0));
  if (!(r.factor >= 1.0)) return KeyError(key + ".factor", "must be >= 1");
  if (r.type == RopeScaling::Type::kLlama3) {
    ASSIGN_OR_RETURN(r.low_freq_factor, Double(s, "low_freq_factor", 0.0));
    ASSIGN_OR_RETURN(r.high_freq_factor, Double(s, "high_freq_factor", 0.0));
    ASSIGN_OR_RETURN(r.original_max_position_embeddings,
                     Int(s, "original_max_position_embeddings", std::nullopt, 1, kMaxWidth * 64));
    if (!(r.low_freq_factor > 0 && r.high_freq_factor > r.low_freq_factor)) {
      return KeyError(key, "llama3 needs 0 < low_freq_factor < high_freq_factor");
    }
  }
  return r;
}

// Keys whose non-default values would change the maths we compute.
absl::Status RejectUnsupported(const Json& j) {
  if (Present(j, "hidden_act") && j.at("hidden_act") != "silu") {
    return KeyError("hidden_act", "only 'silu' is supported");
  }
  ASSIGN_OR_RETURN(bool mlp_bias, Bool(j, "mlp_bias", false));
  if (mlp_bias) return KeyError("mlp_bias", "true is not supported");
  ASSIGN_OR_RETURN(bool sliding, Bool(j, "use_sliding_window", false));
  if (sliding) return KeyError("use_sliding_window", "sliding-window attention is not supported");
  if (Present(j, "layer_types")) {
    const Json& lt = j.at("layer_types");
    if (!lt.is_array()) return KeyError("layer_types", "not a list");
    for (const Json& t : lt) {
      if (t != "full_attention") {
        return KeyError("layer_types", "only 'full_attention' layers are supported");
      }
    }
  }
  if (Present(j, "quantization_config")) {
    return KeyError("quantization_config", "quantized checkpoints are not supported");
  }
  return absl::OkStatus();
}

absl::StatusOr<HeadKind> ParseArchitectures(const Json& j, std::vector<std::string>* names) {
  HeadKind head = HeadKind::kCausalLM;
  if (!Present(j, "architectures")) return head;
  const Json& a = j.at("architectures");
  if (!a.is_array()) return KeyError("architectures", "not a list");
  for (const Json& e : a) {
    if (!e.is_string()) return KeyError("architectures", "holds a non-string");
    const std::string name = e.get<std::string>();
    if (absl::EndsWith(name, "ForSequenceClassification")) {
      head = HeadKind::kSequenceClassification;
    } else if (!absl::EndsWith(name, "ForCausalLM")) {
      return KeyError("architectures", absl::StrCat("'", name,
                                                    "' is not supported (expected "
                                                    "*ForCausalLM or "
                                                    "*ForSequenceClassification)"));
    }
    names->push_back(name);
  }
  return head;
}

}  // namespace

const char* ModelTypeName(ModelType type) {
  switch (type) {
    case ModelType::kLlama:
      return "llama";
    case ModelType::kQwen2:
      return "qwen2";
    case ModelType::kQwen3:
      return "qwen3";
  }
  return "?";
}

std::string ArchitectureName(ModelType type, HeadKind head) {
  const char* prefix = type == ModelType::kLlama   ? "Llama"
                       : type == ModelType::kQwen2 ? "Qwen2"
                                                   : "Qwen3";
  return absl::StrCat(prefix,
                      head == HeadKind::kCausalLM ? "ForCausalLM" : "ForSequenceClassification");
}

absl::StatusOr<torch::ScalarType> ParseTorchDtype(absl::string_view name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  return absl::InvalidArgumentError(
      absl::StrCat("dtype '", name, "' is not supported (float32, bfloat16, float16)"));
}

const char* TorchDtypeName(torch::ScalarType type) {
  switch (type) {
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat16:
      return "float16";
    default:
      return "float32";
  }
}

absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text) {
  Json j = Json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("config.json is not a JSON object");
  }
  ModelConfig c;
  if (!Present(j, "model_type") || !j.at("model_type").is_string()) {
    return KeyError("model_type", "missing");
  }
  const std::string type = j.at("model_type").get<std::string>();
  if (type == "llama") {
    c.model_type = ModelType::kLlama;
  } else if (type == "qwen2") {
    c.model_type = ModelType::kQwen2;
  } else if (type == "qwen3") {
    c.model_type = ModelType::kQwen3;
  } else {
    return KeyError("model_type",
                    absl::StrCat("'", type, "' is not supported (llama, qwen2, qwen3)"));
  }
  RETURN_IF_ERROR(RejectUnsupported(j));
  ASSIGN_OR_RETURN(c.head, ParseArchitectures(j, &c.architectures));
  if (c.architectures.empty()) c.architectures.push_back(ArchitectureName(c.model_type, c.head));

  ASSIGN_OR_RETURN(c.vocab_size, Int(j, "vocab_size", std::nullopt, 1, kMaxVocab));
  ASSIGN_OR_RETURN(c.hidden_size, Int(j, "hidden_size", std::nullopt, 1, kMaxWidth));
  ASSIGN_OR_RETURN(c.intermediate_size, Int(j, "intermediate_size", std::nullopt, 1, kMaxWidth));
  ASSIGN_OR_RETURN(c.num_hidden_layers, Int(j, "num_hidden_layers", std::nullopt, 1, kMaxLayers));
  ASSIGN_OR_RETURN(c.num_attention_heads,
                   Int(j, "num_attention_heads", std::nullopt, 1, c.hidden_size));
  ASSIGN_OR_RETURN(c.num_key_value_heads,
                   Int(j, "num_key_value_heads", c.num_attention_heads, 1, c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return KeyError("num_key_value_heads", "must divide num_attention_heads");
  }
  ASSIGN_OR_RETURN(c.head_dim, Int(j, "head_dim", c.hidden_size / c.num_attention_heads, 2, 65536));
  if (c.head_dim % 2 != 0) return KeyError("head_dim", "must be even for RoPE");
  const int64_t default_max_pos = c.model_type == ModelType::kLlama ? 2048 : 32768;
  ASSIGN_OR_RETURN(c.max_position_embeddings,
                   Int(j, "max_position_embeddings", default_max_pos, 1, kMaxWidth * 64));
  ASSIGN_OR_RETURN(c.rms_norm_eps, Double(j, "rms_norm_eps", 1e-6));
  if (!(c.rms_norm_eps > 0)) return KeyError("rms_norm_eps", "must be > 0");
  ASSIGN_OR_RETURN(c.rope_theta, ParseRopeTheta(j));
  if (!(c.rope_theta > 1)) return KeyError("rope_theta", "must be > 1");
  ASSIGN_OR_RETURN(c.rope_scaling, ParseRopeScaling(j));
  ASSIGN_OR_RETURN(c.tie_word_embeddings, Bool(j, "tie_word_embeddings", false));
  ASSIGN_OR_RETURN(bool attention_bias, Bool(j, "attention_bias", false));
  c.qkv_bias = c.model_type == ModelType::kQwen2 || attention_bias;
  c.o_bias = c.model_type != ModelType::kQwen2 && attention_bias;
  c.qk_norm = c.model_type == ModelType::kQwen3;
  for (const char* key : {"torch_dtype", "dtype"}) {
    if (Present(j, key)) {
      if (!j.at(key).is_string()) return KeyError(key, "not a string");
      auto dtype = ParseTorchDtype(j.at(key).get<std::string>());
      if (!dtype.ok()) return KeyError(key, dtype.status().message());
      c.torch_dtype = *dtype;
      break;
    }
  }
  ASSIGN_OR_RETURN(c.bos_token_id, OptionalId(j, "bos_token_id"));
  ASSIGN_OR_RETURN(c.eos_token_ids, IdList(j, "eos_token_id"));
  ASSIGN_OR_RETURN(c.pad_token_id, OptionalId(j, "pad_token_id"));
  ASSIGN_OR_RETURN(c.initializer_range, Double(j, "initializer_range", 0.02));
  // HF derives num_labels from id2label when it is not written out; its default is 2.
  int64_t labels = 2;
  if (Present(j, "id2label") && j.at("id2label").is_object()) {
    labels = static_cast<int64_t>(j.at("id2label").size());
  }
  ASSIGN_OR_RETURN(c.num_labels, Int(j, "num_labels", labels, 1, kMaxVocab));
  return c;
}

std::string ModelConfigToJson(const ModelConfig& c) {
  Json j = {
      {"architectures", c.architectures},
      {"model_type", ModelTypeName(c.model_type)},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads},
      {"head_dim", c.head_dim},
      {"hidden_act", "silu"},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"torch_dtype", TorchDtypeName(c.torch_dtype)},
      {"bos_token_id", OptionalIdJson(c.bos_token_id)},
      {"eos_token_id", IdListJson(c.eos_token_ids)},
      {"pad_token_id", OptionalIdJson(c.pad_token_id)},
      {"initializer_range", c.initializer_range},
      {"attention_dropout", 0.0},
      {"use_cache", true},
  };
  switch (c.rope_scaling.type) {
    case RopeScaling::Type::kNone:
      j["rope_scaling"] = nullptr;
      break;
    case RopeScaling::Type::kLinear:
      j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope_scaling.factor}};
      break;
    case RopeScaling::Type::kLlama3:
      j["rope_scaling"] = {
          {"rope_type", "llama3"},
          {"factor", c.rope_scaling.factor},
          {"low_freq_factor", c.rope_scaling.low_freq_factor},
          {"high_freq_factor", c.rope_scaling.high_freq_factor},
          {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
      break;
  }
  if (c.model_type == ModelType::kQwen2) {
    j["use_sliding_window"] = false;
    j["sliding_window"] = nullptr;
    j["max_window_layers"] = c.num_hidden_layers;
  } else {
    j["attention_bias"] = c.qkv_bias;
    if (c.model_type == ModelType::kLlama) {
      j["mlp_bias"] = false;
      j["pretraining_tp"] = 1;
    } else {
      j["use_sliding_window"] = false;
      j["sliding_window"] = nullptr;
    }
  }
  if (c.head == HeadKind::kSequenceClassification) {
    Json id2label = Json::object(), label2id = Json::object();
    for (int64_t i = 0; i < c.num_labels; ++i) {
      id2label[std::to_string(i)] = absl::StrCat("LABEL_", i);
      label2id[absl::StrCat("LABEL_", i)] = i;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
  }
  return j.dump(2) + "\n";
}

absl::StatusOr<GenerationConfig> ParseGenerationConfig(absl::string_view json_text) {
  Json j = Json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("generation_config.json is not a JSON object");
  }
  GenerationConfig g;
  ASSIGN_OR_RETURN(g.bos_token_id, OptionalId(j, "bos_token_id"));
  ASSIGN_OR_RETURN(g.eos_token_ids, IdList(j, "eos_token_id"));
  ASSIGN_OR_RETURN(g.pad_token_id, OptionalId(j, "pad_token_id"));
  return g;
}

std::string GenerationConfigToJson(const GenerationConfig& g) {
  Json j = {{"bos_token_id", OptionalIdJson(g.bos_token_id)},
            {"eos_token_id", IdListJson(g.eos_token_ids)},
            {"pad_token_id", OptionalIdJson(g.pad_token_id)},
            {"_from_model_config", false}};
  return j.dump(2) + "\n";
}

}  // namespace pelican
