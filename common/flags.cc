#include "common/flags.h"

#include "common/config.h"
#include "common/rpc.h"

namespace pelican {
namespace {

// Accepts HOST:PORT with port 0..65535.
CLI::Validator HostPortValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        const auto hp = ParseHostPort(value, /*allow_zero_port=*/true);
        return hp.ok() ? std::string() : std::string(hp.status().message());
      },
      "HOST:PORT", "HostPort");
}

}  // namespace

void AddConfigArgs(CLI::App* cmd, ConfigArgs* args) {
  cmd->add_option("CONFIG", args->path, "Run config (YAML)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides,
                  "Override a config key, e.g. --set learner.optimizer.lr=1e-5 (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

std::vector<std::string> ConfigArgs::EffectiveOverrides() const {
  std::vector<std::string> all = overrides;
  if (!run_dir.empty()) all.push_back("run.dir=" + run_dir);
  return all;
}

void AddRunDirArg(CLI::App* cmd, ConfigArgs* args, const std::string& what) {
  cmd->add_option("--run_dir", args->run_dir,
                  "Run directory (" + what + "); default: the config's run.dir");
}

absl::StatusOr<v1::RunConfig> LoadConfig(const ConfigArgs& args) {
  return LoadRunConfig(args.path, args.EffectiveOverrides());
}

void AddServerArgs(CLI::App* cmd, ServerArgs* args, const std::string& default_listen,
                   const std::string& default_metrics_listen) {
  args->listen = default_listen;
  args->metrics_listen = default_metrics_listen;
  cmd->add_option("--listen", args->listen, "gRPC address to serve on")
      ->check(HostPortValidator())
      ->capture_default_str();
  cmd->add_option("--metrics_listen", args->metrics_listen,
                  "Prometheus /metrics address (loopback by default)")
      ->check(HostPortValidator())
      ->capture_default_str();
}

}  // namespace pelican
