// `pelican actor CONFIG --learner HOST:PORT --reward TARGET --metrics_listen HOST:PORT`: one
// rollout actor. Start or kill any number of them at any time; see actor/actor.h.
#include "actor/actor.h"
#include "cli/app.h"
#include "cli/role_setup.h"
#include "common/net.h"
#include "common/runtime.h"
#include "common/signals.h"

namespace pelican::cli {
namespace {

struct ActorArgs {
  std::string learner = "127.0.0.1:50051";
  std::string reward = "127.0.0.1:50052";
  std::string metrics_listen = "127.0.0.1:0";
  std::string name;
};

int RunActor(const ConfigArgs& config_args, const ActorArgs& args) {
  auto role = SetUpRole("actor", config_args, args.metrics_listen);
  if (!role.ok()) return ReportError(role.status());
  ConfigureThreads(role->config.actors().threads());
  ActorOptions options;
  options.learner = args.learner;
  options.reward = args.reward;
  options.name = args.name;
  options.registry = role->registry;
  auto actor = Actor::Create(role->config, role->rpc, options);
  if (!actor.ok()) return ReportError(actor.status());
  absl::Status status = (*actor)->Run(SignalWatcher::Install());
  if (!status.ok()) return ReportError(status);
  return 0;
}

}  // namespace

void AddActorCommand(CLI::App* app, RunFn* run) {
  CLI::App* cmd = app->add_subcommand("actor", "Run one rollout actor");
  auto config_args = std::make_shared<ConfigArgs>();
  auto args = std::make_shared<ActorArgs>();
  AddConfigArgs(cmd, config_args.get());
  cmd->add_option("--learner", args->learner, "LearnerService address HOST:PORT")
      ->capture_default_str();
  cmd->add_option("--reward", args->reward,
                  "RewardService target: HOST:PORT, or dns:///NAME:PORT for round robin")
      ->capture_default_str();
  cmd->add_option("--metrics_listen", args->metrics_listen, "Metrics endpoint HOST:PORT")
      ->capture_default_str();
  cmd->add_option("--name", args->name, "Name in the learner's logs (default host:pid)");
  cmd->callback([run, config_args, args] {
    *run = [config_args, args] { return RunActor(*config_args, *args); };
  });
}

}  // namespace pelican::cli
