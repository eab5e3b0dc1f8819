#include "common/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/proto_yaml.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

absl::StatusOr<YAML::Node> ParseYaml(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": invalid YAML: ", e.msg));
  }
}

absl::Status ApplyOverride(const std::string& text, v1::RunConfig* config) {
  const std::string source = absl::StrCat("--set ", text);
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected key.path=value, e.g. learner.optimizer.lr=1e-5"));
  }
  ASSIGN_OR_RETURN(YAML::Node node, ParseYaml(text.substr(eq + 1), source));
  return SetYamlPath(text.substr(0, eq), node, source, config);
}

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

}  // namespace

v1::RunConfig DefaultRunConfig() {
  v1::RunConfig config;
  ApplyProtoDefaults(&config);
  return config;
}

absl::StatusOr<v1::RunConfig> ParseRunConfig(const std::string& yaml, const std::string& source,
                                             const std::vector<std::string>& overrides) {
  v1::RunConfig config = DefaultRunConfig();
  ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(yaml, source));
  RETURN_IF_ERROR(MergeYaml(root, source, "", &config));
  for (const std::string& o : overrides) RETURN_IF_ERROR(ApplyOverride(o, &config));
  RETURN_IF_ERROR(ValidateRunConfig(config));
  return config;
}

absl::StatusOr<v1::RunConfig> LoadRunConfig(const std::string& path,
                                            const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseRunConfig(text, path, overrides);
}

absl::Status ValidateRunConfig(const v1::RunConfig& c) {
  RETURN_IF_ERROR(CheckRanges(c, ""));
  const v1::TinyModelShape& tiny = c.model().tiny();
  if (tiny.hidden_size() % tiny.num_heads() != 0) {
    return Invalid("model.tiny.hidden_size",
                   absl::StrCat(tiny.hidden_size(), " is not divisible by model.tiny.num_heads (",
                                tiny.num_heads(), ")"));
  }
  if (tiny.num_heads() % tiny.num_kv_heads() != 0) {
    return Invalid("model.tiny.num_heads",
                   absl::StrCat(tiny.num_heads(), " is not divisible by model.tiny.num_kv_heads (",
                                tiny.num_kv_heads(), ")"));
  }
  if ((tiny.hidden_size() / tiny.num_heads()) % 2 != 0) {
    return Invalid("model.tiny.hidden_size", "hidden_size / num_heads must be even for RoPE");
  }
  if (c.task().kind() == v1::TASK_KIND_JSONL && c.task().train_file().empty()) {
    return Invalid("task.train_file", "required when task.kind is jsonl");
  }
  std::set<std::string> names;
  for (int i = 0; i < c.reward().scorers_size(); ++i) {
    const v1::ScorerSpec& s = c.reward().scorers(i);
    const std::string path = absl::StrCat("reward.scorers[", i, "]");
    if (s.name().empty()) return Invalid(path + ".name", "every scorer needs a name");
    if (!names.insert(s.name()).second) {
      return Invalid(path + ".name", absl::StrCat("duplicate scorer name '", s.name(), "'"));
    }
    if (s.kind_case() == v1::ScorerSpec::KIND_NOT_SET) {
      return Invalid(path,
                     "set one of reward_model, exact_match, regex, length_penalty, "
                     "repetition_penalty, stop_penalty");
    }
    if (s.has_reward_model() && s.reward_model().paths().empty()) {
      return Invalid(path + ".reward_model.paths", "needs at least one model directory");
    }
    if (s.has_regex() && s.regex().pattern().empty()) {
      return Invalid(path + ".regex.pattern", "must not be empty");
    }
  }
  const v1::SecuritySection& sec = c.security();
  const v1::TlsSection& tls = sec.tls();
  const bool any_tls = !tls.cert_file().empty() || !tls.ca_file().empty();
  if (!sec.insecure() && !any_tls) {
    return Invalid("security",
                   "no TLS configured (security.tls.cert_file / ca_file); set "
                   "security.insecure: true to allow plain-text gRPC");
  }
  if (sec.insecure() && any_tls) {
    return Invalid("security.insecure", "is true but security.tls files are set; choose one");
  }
  if (tls.cert_file().empty() != tls.key_file().empty()) {
    return Invalid("security.tls", "cert_file and key_file go together");
  }
  if (tls.client_cert_file().empty() != tls.client_key_file().empty()) {
    return Invalid("security.tls", "client_cert_file and client_key_file go together");
  }
  if (tls.require_client_cert() && tls.ca_file().empty()) {
    return Invalid("security.tls.require_client_cert",
                   "needs security.tls.ca_file to verify client certificates");
  }
  if (!sec.token_file().empty() && !sec.token_env().empty()) {
    return Invalid("security", "set token_file or token_env, not both");
  }
  return absl::OkStatus();
}

std::string TokenizerPath(const v1::ModelSection& model, const std::string& model_dir) {
  return model.tokenizer().empty() ? model_dir + "/tokenizer.json" : model.tokenizer();
}

std::string ConfigFingerprint(const v1::RunConfig& config) {
  v1::RunConfig shared = config;
  ClearLocalFields(&shared);
  return Sha256Hex(ToYaml(shared)).substr(0, 16);
}

std::string ResolvedConfigYaml(const v1::RunConfig& config) {
  return absl::StrCat("# pelican resolved config; fingerprint ", ConfigFingerprint(config), "\n",
                      ToYaml(config));
}

absl::Status WriteResolvedConfig(const v1::RunConfig& config, const std::string& dir,
                                 const std::string& file_name) {
  RETURN_IF_ERROR(MakeDirs(dir));
  return WriteFileAtomic(absl::StrCat(dir, "/", file_name), ResolvedConfigYaml(config));
}

}  // namespace pelican
