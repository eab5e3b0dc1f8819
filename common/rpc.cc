#include "common/rpc.h"

#include <openssl/crypto.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

constexpr char kAuthHeader[] = "authorization";
constexpr char kBearer[] = "Bearer ";

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view key) {
  if (path.empty()) return std::string();
  auto text = ReadFile(path);
  if (!text.ok()) return Annotate(text.status(), absl::StrCat("security.tls.", key));
  return *text;
}

absl::StatusOr<std::string> ReadToken(const v1::SecuritySection& s) {
  std::string token;
  if (!s.token_file().empty()) {
    auto text = ReadFile(s.token_file());
    if (!text.ok()) return Annotate(text.status(), "security.token_file");
    token = *text;
  } else if (!s.token_env().empty()) {
    const char* v = std::getenv(s.token_env().c_str());
    if (v == nullptr || *v == '\0') {
      return absl::InvalidArgumentError(
          absl::StrCat("security.token_env: environment variable ", s.token_env(), " is not set"));
    }
    token = v;
  } else {
    return std::string();
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) return absl::InvalidArgumentError("security: the token is empty");
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError("security: the token must be printable ASCII");
    }
  }
  return token;
}

}  // namespace

absl::StatusOr<RpcSettings> RpcSettings::FromConfig(const v1::SecuritySection& security,
                                                    const v1::RpcSection& rpc) {
  RpcSettings s;
  s.insecure_ = security.insecure();
  const v1::TlsSection& tls = security.tls();
  ASSIGN_OR_RETURN(s.cert_pem_, ReadPem(tls.cert_file(), "cert_file"));
  ASSIGN_OR_RETURN(s.key_pem_, ReadPem(tls.key_file(), "key_file"));
  ASSIGN_OR_RETURN(s.ca_pem_, ReadPem(tls.ca_file(), "ca_file"));
  ASSIGN_OR_RETURN(s.client_cert_pem_, ReadPem(tls.client_cert_file(), "client_cert_file"));
  ASSIGN_OR_RETURN(s.client_key_pem_, ReadPem(tls.client_key_file(), "client_key_file"));
  s.require_client_cert_ = tls.require_client_cert();
  s.server_name_ = tls.server_name();
  ASSIGN_OR_RETURN(s.token_, ReadToken(security));
  s.default_deadline_ = absl::Seconds(rpc.default_deadline_s());
  s.keepalive_time_ms_ = static_cast<int>(rpc.keepalive_time_s() * 1000);
  s.keepalive_timeout_ms_ = static_cast<int>(rpc.keepalive_timeout_s() * 1000);
  s.max_message_bytes_ = static_cast<int>(rpc.max_message_bytes());
  return s;
}

void RpcSettings::ConfigureServer(const std::string& address, grpc::ServerBuilder* builder,
                                  int* selected_port) const {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (insecure_) {
    creds = grpc::InsecureServerCredentials();
  } else {
    grpc::SslServerCredentialsOptions opts(
        require_client_cert_ ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                             : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    opts.pem_root_certs = ca_pem_;
    opts.pem_key_cert_pairs.push_back({key_pem_, cert_pem_});
    creds = grpc::SslServerCredentials(opts);
  }
  builder->AddListeningPort(address, creds, selected_port);
  // gRPC sets SO_REUSEPORT by default, so a second server on a port already in use would start and
  // silently take half the calls (a stale replica with an old model). Refuse the port instead.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder->SetMaxReceiveMessageSize(max_message_bytes_);
  builder->SetMaxSendMessageSize(max_message_bytes_);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_time_ms_);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_timeout_ms_);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Accept the clients' keepalive pings (they ping as often as keepalive_time_ms_).
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              keepalive_time_ms_ / 2);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
}

std::shared_ptr<grpc::Channel> RpcSettings::MakeChannel(const std::string& target,
                                                        bool round_robin) const {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (insecure_) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = ca_pem_;
    opts.pem_private_key = client_key_pem_;
    opts.pem_cert_chain = client_cert_pem_;
    creds = grpc::SslCredentials(opts);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes_);
  args.SetMaxSendMessageSize(max_message_bytes_);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_time_ms_);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_timeout_ms_);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Reconnect to a restarted replica within a fraction of a second (gRPC's default starts at 1 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  if (!server_name_.empty()) args.SetSslTargetNameOverride(server_name_);
  if (round_robin) args.SetLoadBalancingPolicyName("round_robin");
  return grpc::CreateCustomChannel(target, creds, args);
}

std::unique_ptr<grpc::ClientContext> RpcSettings::NewClientContext(
    std::optional<absl::Duration> deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline.value_or(default_deadline_)));
  if (!token_.empty()) ctx->AddMetadata(kAuthHeader, absl::StrCat(kBearer, token_));
  return ctx;
}

grpc::Status RpcSettings::Authorize(const grpc::ServerContextBase& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& md = context.client_metadata();
  const auto it = md.find(kAuthHeader);
  if (it == md.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing bearer token");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  const std::string expected = absl::StrCat(kBearer, token_);
  // Constant-time comparison, so timing does not leak how much of a guess was right.
  if (value.size() != expected.size() ||
      CRYPTO_memcmp(value.data(), expected.data(), expected.size()) != 0) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  }
  return grpc::Status::OK;
}

}  // namespace pelican
