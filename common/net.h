// TCP addresses and sockets: HOST:PORT parsing, listening sockets, free ports. Used by the gRPC
// settings (rpc.h), the metrics endpoint (metrics.h) and launchers that pick ports for children.
#ifndef PELICAN_COMMON_NET_H_
#define PELICAN_COMMON_NET_H_

#include <string>

#include "absl/status/statusor.h"

namespace pelican {

// "host:port" split into its parts; "[::1]:50051" keeps the brackets out of host.
struct HostPort {
  std::string host;
  int port = 0;
};
// Port 0 is allowed (the server picks one) only when `allow_zero_port`.
absl::StatusOr<HostPort> ParseHostPort(const std::string& address, bool allow_zero_port);

// A listening TCP socket (close-on-exec, SO_REUSEADDR) on `address`; port 0 binds a free port.
// `bound_port` receives the port. The caller owns the returned file descriptor.
absl::StatusOr<int> ListenTcp(const HostPort& address, int backlog, int* bound_port);

// A TCP port on `host` that was free a moment ago (bind to port 0, read it, close), for servers
// in child processes that must be told their port before they start.
absl::StatusOr<int> PickFreePort(const std::string& host);

}  // namespace pelican

#endif  // PELICAN_COMMON_NET_H_
