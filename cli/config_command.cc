// `pelican config check CONFIG [--set k=v]...`: load and validate a run config, print the
// resolved YAML and fingerprint; exit 2 naming the first error.
#include <iostream>

#include "cli/app.h"
#include "common/config.h"
#include "common/flags.h"

namespace pelican::cli {

void AddConfigCommand(CLI::App* app, RunFn* run) {
  CLI::App* config = app->add_subcommand("config", "Inspect run configs");
  config->require_subcommand(1);
  CLI::App* check = config->add_subcommand(
      "check", "Validate CONFIG, print the resolved config and its fingerprint");
  auto args = std::make_shared<ConfigArgs>();
  AddConfigArgs(check, args.get());
  check->callback([run, args] {
    *run = [args] {
      auto config = LoadConfig(*args);
      if (!config.ok()) {
        std::cerr << "pelican: config error: " << config.status().message() << "\n";
        return 2;
      }
      std::cout << ResolvedConfigYaml(*config);
      std::cerr << "pelican: " << args->path << " is valid; fingerprint "
                << ConfigFingerprint(*config) << "\n";
      return 0;
    };
  });
}

}  // namespace pelican::cli
