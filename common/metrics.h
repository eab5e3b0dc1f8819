// Prometheus exposition for a pelican process: GET /metrics on a configured address serves one
// registry (prometheus-cpp core, text format), with pelican_build_info{role,version,git_sha} = 1
// registered at start. Components build their metric families on the registry once and keep
// references to the children.
//
// Why not prometheus-cpp's Exposer: its civetweb server starts threads with a fixed ~100 KiB stack,
// and in a process that links Debian's LibTorch glibc refuses those threads (pthread_create
// returns EINVAL: LibTorch's static TLS does not fit), so the Exposer cannot start in any pelican
// role. A scrape endpoint needs only a small HTTP/1.0 loop on one thread.
//
// Thread safety: prometheus-cpp metrics are thread-safe; MetricsServer's methods may be called
// from any thread.
#ifndef PELICAN_COMMON_METRICS_H_
#define PELICAN_COMMON_METRICS_H_

#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace pelican {

class MetricsServer {
 public:
  // Serves `registry` at http://<listen>/metrics. `listen` is HOST:PORT; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::shared_ptr<prometheus::Registry> registry,
      const std::string& role);

  // Stops serving and joins the server thread.
  ~MetricsServer();

  // The bound port (the real one when started with port 0).
  int port() const { return port_; }
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  MetricsServer() = default;
  void Serve();
  void HandleConnection(int fd);

  // Constant after Start.
  std::shared_ptr<prometheus::Registry> registry_;
  int listen_fd_ = -1;
  int port_ = 0;

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Standard latency buckets in seconds (1 ms .. 60 s), shared by every RPC histogram.
const std::vector<double>& LatencyBucketsSeconds();

}  // namespace pelican

#endif  // PELICAN_COMMON_METRICS_H_
