// The pelican binary: one executable, one subcommand per role or job (cli/app.cc).
#include "cli/app.h"

int main(int argc, char** argv) { return pelican::cli::Main(argc, argv); }
