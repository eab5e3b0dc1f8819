// `pelican eval CONFIG --checkpoint DIR`: the task's held-out score of a checkpoint (a learner
// checkpoint directory or any HF model directory), printed as one JSON object:
// {"score", "distinct_2", "mean_length", "examples", "checkpoint"}.
#include <filesystem>
#include <iostream>

#include "cli/app.h"
#include "cli/role_setup.h"
#include "common/runtime.h"
#include "learner/evaluation.h"

namespace pelican::cli {
namespace {

int RunEval(const ConfigArgs& config_args, std::string checkpoint) {
  auto config = LoadConfig(config_args);
  if (!config.ok()) return ReportError(config.status());
  ConfigureThreads(config->learner().threads());
  // A learner checkpoint holds the policy in policy/.
  if (std::filesystem::exists(checkpoint + "/policy/config.json")) checkpoint += "/policy";
  auto result = EvaluatePolicy(*config, checkpoint, config->run().dir());
  if (!result.ok()) return ReportError(result.status());
  std::cout << EvalJson(*result, checkpoint) << "\n";
  return 0;
}

}  // namespace

void AddEvalCommand(CLI::App* app, RunFn* run) {
  CLI::App* cmd = app->add_subcommand("eval", "Score a checkpoint on the task's held-out set");
  auto config_args = std::make_shared<ConfigArgs>();
  auto checkpoint = std::make_shared<std::string>();
  AddConfigArgs(cmd, config_args.get());
  cmd->add_option("--checkpoint", *checkpoint, "Checkpoint or HF model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  AddRunDirArg(cmd, config_args.get(), "task data");
  cmd->callback([run, config_args, checkpoint] {
    *run = [config_args, checkpoint] { return RunEval(*config_args, *checkpoint); };
  });
}

}  // namespace pelican::cli
