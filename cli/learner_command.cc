// `pelican learner CONFIG --listen HOST:PORT --metrics_listen HOST:PORT [--run_dir DIR]`: the
// learner role. Trains until learner.total_steps, checkpointing into the run directory; SIGUSR1
// checkpoints now; SIGTERM / Ctrl-C checkpoints and exits 0; started again on the same run
// directory it resumes from the newest valid checkpoint.
#include "absl/strings/str_cat.h"
#include "cli/app.h"
#include "cli/role_setup.h"
#include "common/runtime.h"
#include "common/signals.h"
#include "learner/distributed.h"
#include "learner/learner.h"

namespace pelican::cli {
namespace {

int RunLearner(const ConfigArgs& config_args, ServerArgs server_args) {
  // Ranks other than 0 serve nothing but metrics, on a port of their own: several ranks may share
  // a host and the flag.
  auto rank = RankInfoFromEnv();
  if (!rank.ok()) return ReportError(rank.status());
  if (rank->rank > 0) {
    server_args.metrics_listen =
        server_args.metrics_listen.substr(0, server_args.metrics_listen.rfind(':')) + ":0";
  }
  auto role = SetUpRole(rank->rank > 0 ? absl::StrCat("learner", rank->rank) : "learner",
                        config_args, server_args.metrics_listen);
  if (!role.ok()) return ReportError(role.status());
  ConfigureThreads(role->config.learner().threads());
  LearnerOptions options;
  options.run_dir = role->config.run().dir();
  options.listen = server_args.listen;
  options.registry = role->registry;
  auto learner = Learner::Create(role->config, role->rpc, options);
  if (!learner.ok()) return ReportError(learner.status());
  absl::Status status = (*learner)->Run(SignalWatcher::Install());
  if (!status.ok()) return ReportError(status);
  return 0;
}

}  // namespace

void AddLearnerCommand(CLI::App* app, RunFn* run) {
  CLI::App* cmd = app->add_subcommand("learner", "Run the learner (trains, serves LearnerService)");
  auto config_args = std::make_shared<ConfigArgs>();
  auto server_args = std::make_shared<ServerArgs>();
  AddConfigArgs(cmd, config_args.get());
  AddServerArgs(cmd, server_args.get(), "127.0.0.1:50051", "127.0.0.1:9101");
  AddRunDirArg(cmd, config_args.get(), "checkpoints, metrics.jsonl, summary.json");
  cmd->callback([run, config_args, server_args] {
    *run = [config_args, server_args] { return RunLearner(*config_args, *server_args); };
  });
}

}  // namespace pelican::cli
