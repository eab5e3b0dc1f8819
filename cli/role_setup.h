// What every long-running role does first: load the config, name itself in the logs, print and
// write the resolved config with its fingerprint, read the RPC security settings, and start the
// metrics endpoint.
#ifndef PELICAN_CLI_ROLE_SETUP_H_
#define PELICAN_CLI_ROLE_SETUP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/flags.h"
#include "common/metrics.h"
#include "common/rpc.h"
#include "common/runtime.h"
#include "pelican/v1/config.pb.h"

namespace pelican::cli {

struct Role {
  v1::RunConfig config;
  RpcSettings rpc;
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<MetricsServer> metrics;
};

// Installs the signal watcher, loads and announces the config for `role` ("reward", "learner",
// "actor"), writes it to <run.dir>/config.<role>.resolved.yaml, and serves metrics on
// `metrics_listen`.
absl::StatusOr<Role> SetUpRole(const std::string& role, const ConfigArgs& config_args,
                               const std::string& metrics_listen);

// Prints `status` as "pelican: error: ..." and returns the exit code for it (2 for bad input or
// configuration, 1 otherwise).
int ReportError(const absl::Status& status);

}  // namespace pelican::cli

#endif  // PELICAN_CLI_ROLE_SETUP_H_
