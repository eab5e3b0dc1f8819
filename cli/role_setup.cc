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
  Role r;
  ASSIGN_OR_RETURN(r.config, LoadConfig(config_args));
  PELICAN_LOG(INFO) << BuildDescription();
  PELICAN_LOG(INFO) << "config " << config_args.path << " fingerprint "
                    << ConfigFingerprint(r.config);
  RETURN_IF_ERROR(WriteResolvedConfig(r.config, r.config.run().dir(),
                                      absl::StrCat("config.", role, ".resolved.yaml")));
  ASSIGN_OR_RETURN(r.rpc, RpcSettings::FromConfig(r.config.security(), r.config.rpc()));
  r.registry = std::make_shared<prometheus::Registry>();
  ASSIGN_OR_RETURN(r.metrics, MetricsServer::Start(metrics_listen, r.registry, role));
  return r;
}

int ReportError(const absl::Status& status) {
  std::cerr << "pelican: error: " << status.message() << "\n";
  return absl::IsInvalidArgument(status) || absl::IsNotFound(status) ? 2 : 1;
}

}  // namespace pelican::cli
