#include "cli/app.h"

#include <iostream>

#include "common/runtime.h"

namespace pelican::cli {

int Main(int argc, char** argv) {
  CLI::App app{
      "pelican: distributed actor-learner RL fine-tuning of language models.\n"
      "Run `pelican SUBCOMMAND --help` for a subcommand's options.",
      "pelican"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", [] { return BuildDescription(); });
  RunFn run;
  AddActorCommand(&app, &run);
  AddConfigCommand(&app, &run);
  AddEvalCommand(&app, &run);
  AddLearnerCommand(&app, &run);
  AddModelCommand(&app, &run);
  AddRewardCommand(&app, &run);
  AddRmCommand(&app, &run);
  AddRunCommand(&app, &run);
  AddSftCommand(&app, &run);
  AddTokenizeCommand(&app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help); its own codes (105 for a failed check, ...) are
    // folded into ours: 0 for --help, 2 for any bad usage.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!run) {
    std::cout << app.help();
    return 2;
  }
  return run();
}

}  // namespace pelican::cli
