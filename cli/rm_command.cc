// `pelican rm CONFIG [--set ...]`: trains a reward model from preference pairs (learner/
// reward_model_trainer.h) and prints one JSON object: losses, pair counts, and the held-out
// pairwise accuracy before and after training.
#include <iostream>

#include "cli/app.h"
#include "cli/role_setup.h"
#include "common/runtime.h"
#include "learner/reward_model_trainer.h"
#include "nlohmann/json.hpp"

namespace pelican::cli {
namespace {

int RunRm(const ConfigArgs& config_args) {
  auto config = LoadConfig(config_args);
  if (!config.ok()) return ReportError(config.status());
  ConfigureThreads(config->learner().threads());
  auto result = TrainRewardModel(*config);
  if (!result.ok()) return ReportError(result.status());
  std::cout << nlohmann::json{{"output", result->output},
                              {"steps", result->steps},
                              {"train_pairs", result->train_pairs},
                              {"eval_pairs", result->eval_pairs},
                              {"first_loss", result->first_loss},
                              {"last_loss", result->last_loss},
                              {"eval_accuracy_before", result->eval_accuracy_before},
                              {"eval_accuracy", result->eval_accuracy}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace

void AddRmCommand(CLI::App* app, RunFn* run) {
  CLI::App* cmd = app->add_subcommand("rm", "Train a reward model from preference pairs");
  auto config_args = std::make_shared<ConfigArgs>();
  AddConfigArgs(cmd, config_args.get());
  cmd->callback([run, config_args] { *run = [config_args] { return RunRm(*config_args); }; });
}

}  // namespace pelican::cli
