// `pelican sft CONFIG [--run_dir DIR]`: supervised fine-tuning as config.sft says (learner/sft.h);
// prints one JSON object with the losses and where the model went.
#include <iostream>

#include "cli/app.h"
#include "cli/role_setup.h"
#include "common/runtime.h"
#include "learner/sft.h"
#include "nlohmann/json.hpp"

namespace pelican::cli {
namespace {

int RunSftCommand(ConfigArgs config_args, const std::string& run_dir) {
  if (!run_dir.empty()) config_args.overrides.push_back("run.dir=" + run_dir);
  auto config = LoadConfig(config_args);
  if (!config.ok()) return ReportError(config.status());
  ConfigureThreads(config->learner().threads());
  auto result = RunSft(*config, config->run().dir());
  if (!result.ok()) return ReportError(result.status());
  std::cout << nlohmann::json{{"output", result->output},
                              {"steps", result->steps},
                              {"examples", result->examples},
                              {"first_loss", result->first_loss},
                              {"last_loss", result->last_loss}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace

void AddSftCommand(CLI::App* app, RunFn* run) {
  CLI::App* cmd = app->add_subcommand("sft", "Supervised fine-tuning on demonstrations");
  auto config_args = std::make_shared<ConfigArgs>();
  auto run_dir = std::make_shared<std::string>();
  AddConfigArgs(cmd, config_args.get());
  cmd->add_option("--run_dir", *run_dir, "Run directory (task data); default run.dir");
  cmd->callback([run, config_args, run_dir] {
    *run = [config_args, run_dir] { return RunSftCommand(*config_args, *run_dir); };
  });
}

}  // namespace pelican::cli
