#include "cli/role_setup.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/signals.h"
#include "common/status_macros.h"

namespace pelican::cli {

absl::StatusOr<Role> SetUpRole(const std::string& role, const ConfigArgs& config_args,
                               const std::string& metrics_listen) {
  // Before any thread exists, so that every thread inherits the blocked signal mask.
  SignalWatcher::Install();
  SetLogRole(role);
  ASSIGN_OR_RETURN(v1::RunConfig config, LoadConfig(config_args));
  PELICAN_LOG(INFO) << BuildDescription();
  PELICAN_LOG(INFO) << "config " << config_args.path << " fingerprint "
                    << ConfigFingerprint(config);
  RETURN_IF_ERROR(WriteResolvedConfig(config, config.run().dir(),
                                      absl::StrCat("config.", role, ".resolved.yaml")));
  ASSIGN_OR_RETURN(RpcSettings rpc, RpcSettings::FromConfig(config.security(), config.rpc()));
  auto registry = std::make_shared<prometheus::Registry>();
  ASSIGN_OR_RETURN(std::unique_ptr<MetricsServer> metrics,
                   MetricsServer::Start(metrics_listen, registry, role));
  return Role{std::move(config), std::move(rpc), std::move(registry), std::move(metrics)};
}

int ReportError(const absl::Status& status) {
  std::cerr << "pelican: error: " << status.message() << "\n";
  return absl::IsInvalidArgument(status) || absl::IsNotFound(status) ? 2 : 1;
}

}  // namespace pelican::cli
