// Prometheus exposition for a pelican process: an HTTP exposer on a configured address serving
// one registry, with pelican_build_info{role,version,git_sha} = 1 registered at start. Components
// build their metric families on the registry once and keep references to the children.
//
// Thread safety: prometheus-cpp metrics are thread-safe; MetricsServer itself is immutable.
#ifndef PELICAN_COMMON_METRICS_H_
#define PELICAN_COMMON_METRICS_H_

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace pelican {

class MetricsServer {
 public:
  // Serves `registry` at http://<listen>/metrics. `listen` is HOST:PORT; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::shared_ptr<prometheus::Registry> registry,
      const std::string& role);

  // The bound port (the real one when started with port 0).
  int port() const { return port_; }
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  int port_ = 0;
};

// Standard latency buckets in seconds (1 ms .. 60 s), shared by every RPC histogram.
const std::vector<double>& LatencyBucketsSeconds();

}  // namespace pelican

#endif  // PELICAN_COMMON_METRICS_H_
