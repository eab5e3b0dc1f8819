// Command-line front end: parses the subcommand and hands over to its Run function.
#ifndef PELICAN_CLI_APP_H_
#define PELICAN_CLI_APP_H_

#include <CLI/CLI.hpp>

namespace pelican::cli {

// Process exit code: 0 success, 1 runtime failure, 2 bad usage or bad config.
int Main(int argc, char** argv);

// Each subcommand registers itself on `app` and sets `*run` to the function to call if chosen.
using RunFn = std::function<int()>;
void AddActorCommand(CLI::App* app, RunFn* run);
void AddConfigCommand(CLI::App* app, RunFn* run);
void AddEvalCommand(CLI::App* app, RunFn* run);
void AddLearnerCommand(CLI::App* app, RunFn* run);
void AddRewardCommand(CLI::App* app, RunFn* run);
void AddRmCommand(CLI::App* app, RunFn* run);
void AddRunCommand(CLI::App* app, RunFn* run);
void AddSftCommand(CLI::App* app, RunFn* run);
void AddModelCommand(CLI::App* app, RunFn* run);
void AddTokenizeCommand(CLI::App* app, RunFn* run);

}  // namespace pelican::cli

#endif  // PELICAN_CLI_APP_H_
