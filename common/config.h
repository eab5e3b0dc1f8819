// The run config: one YAML file per run, typed as pelican.v1.RunConfig.
//
//   defaults from config.proto ──► YAML file ──► --set overrides ──► semantic checks ──► RunConfig
//
// Every error is INVALID_ARGUMENT naming the file (or "--set ..."), line and key path. The
// fingerprint identifies a config up to its local fields: processes of one run compare it when
// actors register.
#ifndef PELICAN_COMMON_CONFIG_H_
#define PELICAN_COMMON_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

// All defaults, nothing else.
v1::RunConfig DefaultRunConfig();

// Loads `path`, then applies `overrides` ("key.path=value", value in YAML syntax, e.g.
// "actors.sampling.top_p=0.9" or "actors.sampling.stop_token_ids=[1, 2]") in order.
absl::StatusOr<v1::RunConfig> LoadRunConfig(const std::string& path,
                                            const std::vector<std::string>& overrides = {});

// As LoadRunConfig, from YAML text; `source` names it in errors.
absl::StatusOr<v1::RunConfig> ParseRunConfig(const std::string& yaml, const std::string& source,
                                             const std::vector<std::string>& overrides = {});

// Checks relations between fields (head counts divide, scorers are well formed, security is
// explicit) that single-field ranges cannot express.
absl::Status ValidateRunConfig(const v1::RunConfig& config);

// 16 hex characters of SHA-256 over the canonical YAML of `config` without its local fields.
// Stable across processes and builds of the same schema; any non-local change changes it.
std::string ConfigFingerprint(const v1::RunConfig& config);

// The run's tokenizer.json: model.tokenizer when set, else the one in `model_dir` (the policy's
// directory by default).
std::string TokenizerPath(const v1::ModelSection& model, const std::string& model_dir);
inline std::string TokenizerPath(const v1::ModelSection& model) {
  return TokenizerPath(model, model.policy());
}

// The resolved config as YAML (loads back to the same message), headed by its fingerprint.
std::string ResolvedConfigYaml(const v1::RunConfig& config);

// Writes ResolvedConfigYaml to <dir>/<file_name> atomically, creating `dir`.
absl::Status WriteResolvedConfig(const v1::RunConfig& config, const std::string& dir,
                                 const std::string& file_name = "config.resolved.yaml");

}  // namespace pelican

#endif  // PELICAN_COMMON_CONFIG_H_
