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

int RunSftCommand(const ConfigArgs& config_args) {
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
  AddConfigArgs(cmd, config_args.get());
  AddRunDirArg(cmd, config_args.get(), "task data");
  cmd->callback(
      [run, config_args] { *run = [config_args] { return RunSftCommand(*config_args); }; });
}

}  // namespace pelican::cli
