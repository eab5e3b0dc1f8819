// Command-line pieces shared by the pelican subcommands (CLI11): the CONFIG argument with its
// repeatable --set overrides, and the --listen / --metrics_listen pair of server roles.
#ifndef PELICAN_COMMON_FLAGS_H_
#define PELICAN_COMMON_FLAGS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

struct ConfigArgs {
  std::string path;
  std::vector<std::string> overrides;  // "key.path=value", applied in order
  // --run_dir, for commands that offer it: run.dir, applied after the overrides.
  std::string run_dir;

  // `overrides`, then run.dir=<run_dir> when --run_dir was given: what LoadConfig applies, and
  // what a launcher passes on to its children as --set flags.
  std::vector<std::string> EffectiveOverrides() const;
};

// Adds the positional CONFIG and `--set key.path=value` (repeatable) to `cmd`.
void AddConfigArgs(CLI::App* cmd, ConfigArgs* args);

// Adds `--run_dir DIR` (overrides run.dir) to `cmd`; `what` says what goes there.
void AddRunDirArg(CLI::App* cmd, ConfigArgs* args, const std::string& what);

// LoadRunConfig on the parsed arguments.
absl::StatusOr<v1::RunConfig> LoadConfig(const ConfigArgs& args);

struct ServerArgs {
  std::string listen;
  std::string metrics_listen;
};

// Adds --listen HOST:PORT and --metrics_listen HOST:PORT (validated) with these defaults.
void AddServerArgs(CLI::App* cmd, ServerArgs* args, const std::string& default_listen,
                   const std::string& default_metrics_listen);

}  // namespace pelican

#endif  // PELICAN_COMMON_FLAGS_H_
