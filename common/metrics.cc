#include "common/metrics.h"

#include <prometheus/gauge.h>

#include <exception>

#include "absl/strings/str_cat.h"
#include "common/rpc.h"
#include "common/status_macros.h"
#include "common/version.h"

namespace pelican {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::shared_ptr<prometheus::Registry> registry,
    const std::string& role) {
  ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(listen, /*allow_zero_port=*/true));
  std::unique_ptr<MetricsServer> server(new MetricsServer);
  server->registry_ = std::move(registry);
  prometheus::BuildGauge()
      .Name("pelican_build_info")
      .Help("Build of this pelican process; the value is always 1")
      .Register(*server->registry_)
      .Add({{"role", role}, {"version", kPelicanVersion}, {"git_sha", kPelicanGitSha}})
      .Set(1);
  // civetweb takes "host:port", with IPv6 hosts in brackets.
  const std::string bind = hp.host.find(':') != std::string::npos
                               ? absl::StrCat("[", hp.host, "]:", hp.port)
                               : absl::StrCat(hp.host, ":", hp.port);
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(bind, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  server->exposer_->RegisterCollectable(server->registry_);
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? hp.port : ports.front();
  return server;
}

const std::vector<double>& LatencyBucketsSeconds() {
  static const auto* buckets = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

}  // namespace pelican
