// How every pelican process speaks gRPC: TLS or mTLS or (only when the config says so) plain
// text, an optional bearer token, keepalive, explicit message-size limits and a deadline on every
// call. Servers and clients of all roles go through RpcSettings, so these rules live in one place.
//
// Thread safety: an RpcSettings is immutable after FromConfig and may be shared by any threads.
#ifndef PELICAN_COMMON_RPC_H_
#define PELICAN_COMMON_RPC_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/net.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

class RpcSettings {
 public:
  // Reads TLS files and the token now, so a missing file fails at start, not at the first call.
  static absl::StatusOr<RpcSettings> FromConfig(const v1::SecuritySection& security,
                                                const v1::RpcSection& rpc);

  // Listens on `address` with this security and these limits. `selected_port` receives the
  // port actually bound (useful with port 0) once the server is built.
  void ConfigureServer(const std::string& address, grpc::ServerBuilder* builder,
                       int* selected_port) const;

  // A channel to `target` ("host:port", or "dns:///name:port" for round robin over replicas).
  std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                             bool round_robin = false) const;

  // A context for one call: the deadline (default: rpc.default_deadline_s) and the token.
  std::unique_ptr<grpc::ClientContext> NewClientContext(
      std::optional<absl::Duration> deadline = std::nullopt) const;

  // Server side: OK when the call carries the token (or none is configured), else
  // UNAUTHENTICATED. Every handler of every pelican service calls it first.
  grpc::Status Authorize(const grpc::ServerContextBase& context) const;

  bool has_token() const { return !token_.empty(); }
  absl::Duration default_deadline() const { return default_deadline_; }

 private:
  RpcSettings() = default;

  // Constant after construction.
  bool insecure_ = false;
  std::string cert_pem_, key_pem_, ca_pem_, client_cert_pem_, client_key_pem_;
  bool require_client_cert_ = false;
  std::string server_name_;
  std::string token_;
  absl::Duration default_deadline_;
  int keepalive_time_ms_ = 0;
  int keepalive_timeout_ms_ = 0;
  int max_message_bytes_ = 0;
};

}  // namespace pelican

#endif  // PELICAN_COMMON_RPC_H_
