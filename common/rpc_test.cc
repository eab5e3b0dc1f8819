#include "common/rpc.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/testdata/echo_service.h"

namespace pelican {
namespace {

using testing::EchoServer;

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with the
// openssl command at test time (nothing secret is checked in).
class Certs {
 public:
  static const Certs& Get() {
    static const Certs* certs = new Certs;
    return *certs;
  }
  std::string dir;

 private:
  Certs() {
    dir = ::testing::TempDir() + "/pelican_rpc_certs_" + std::to_string(getpid());
    PELICAN_CHECK_OK(MakeDirs(dir));
    const std::string d = dir;
    const std::string script = absl::StrCat(
        "set -e; cd ", d, "; exec >openssl.log 2>&1;",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pelican-test-ca "
        "-keyout ca.key -out ca.pem;",
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' >san.ext;",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out "
        "server.csr;",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile san.ext -out server.pem;",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=pelican-actor -keyout client.key "
        "-out client.csr;",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-out client.pem;");
    PELICAN_CHECK(std::system(absl::StrCat("bash -c \"", script, "\"").c_str()) == 0)
        << "openssl failed; see " << d << "/openssl.log";
  }
};

v1::RunConfig BaseConfig() {
  v1::RunConfig c = DefaultRunConfig();
  c.mutable_security()->set_insecure(true);
  return c;
}

RpcSettings Settings(const v1::RunConfig& c) {
  auto s = RpcSettings::FromConfig(c.security(), c.rpc());
  PELICAN_CHECK_OK(s.status());
  return *s;
}

std::string WriteToken(const std::string& name, const std::string& token) {
  const std::string path = ::testing::TempDir() + "/" + name;
  PELICAN_CHECK_OK(WriteFileAtomic(path, token + "\n"));
  return path;
}

TEST(RpcTest, ParseHostPort) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:50051", false)->port, 50051);
  EXPECT_EQ(ParseHostPort("[::1]:8080", false)->host, "::1");
  EXPECT_TRUE(ParseHostPort("0.0.0.0:0", true).ok());
  EXPECT_FALSE(ParseHostPort("0.0.0.0:0", false).ok());
  EXPECT_FALSE(ParseHostPort("localhost", true).ok());
  EXPECT_FALSE(ParseHostPort("localhost:99999", true).ok());
  EXPECT_FALSE(ParseHostPort("localhost:http", true).ok());
}

TEST(RpcTest, PickFreePortGivesABindablePort) {
  auto port = PickFreePort("127.0.0.1");
  ASSERT_TRUE(port.ok()) << port.status();
  int bound = 0;
  auto fd = ListenTcp(HostPort{"127.0.0.1", *port}, 4, &bound);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(bound, *port);
  // Taken now: a second listener on it fails with a message naming the address.
  int again = 0;
  auto busy = ListenTcp(HostPort{"127.0.0.1", *port}, 4, &again);
  close(*fd);
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(std::string(busy.status().message()).find(std::to_string(*port)), std::string::npos);
  EXPECT_FALSE(PickFreePort("not-an-ip").ok());
}

TEST(RpcTest, ASecondServerOnABoundPortFailsToStart) {
  const RpcSettings rpc = Settings(BaseConfig());
  EchoServer first(rpc);
  // A second server with a service (the generated one, every method UNIMPLEMENTED) on that port.
  testing::Echo::CallbackService service;
  grpc::ServerBuilder builder;
  int port = 0;
  rpc.ConfigureServer(first.address(), &builder, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> second = builder.BuildAndStart();
  EXPECT_TRUE(second == nullptr || port == 0)
      << "a second server started on " << first.address() << " (SO_REUSEPORT)";
  if (second != nullptr) second->Shutdown();
  // The first one still answers.
  EXPECT_TRUE(EchoServer::CallSay(rpc, first.address()).ok());
}

TEST(RpcTest, InsecureWithoutTokenWorks) {
  const RpcSettings s = Settings(BaseConfig());
  EchoServer server(s);
  std::string reply;
  const grpc::Status st = EchoServer::CallSay(s, server.address(), &reply);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(reply, "echo: hello");
}

TEST(RpcTest, TokenIsRequiredAndChecked) {
  v1::RunConfig server_cfg = BaseConfig();
  server_cfg.mutable_security()->set_token_file(WriteToken("server.token", "s3cret-token"));
  EchoServer server(Settings(server_cfg));

  // No token at all.
  grpc::Status st = EchoServer::CallSay(Settings(BaseConfig()), server.address());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();

  // A wrong token.
  v1::RunConfig wrong = BaseConfig();
  wrong.mutable_security()->set_token_file(WriteToken("wrong.token", "s3cret-tokeN"));
  st = EchoServer::CallSay(Settings(wrong), server.address());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // The right token, from the environment this time.
  setenv("PELICAN_TEST_TOKEN", "s3cret-token", 1);
  v1::RunConfig right = BaseConfig();
  right.mutable_security()->set_token_env("PELICAN_TEST_TOKEN");
  st = EchoServer::CallSay(Settings(right), server.address());
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST(RpcTest, MissingTokenSourceFailsAtStart) {
  v1::RunConfig c = BaseConfig();
  c.mutable_security()->set_token_env("PELICAN_TEST_UNSET_VARIABLE");
  auto s = RpcSettings::FromConfig(c.security(), c.rpc());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.status().message()).find("PELICAN_TEST_UNSET_VARIABLE"),
            std::string::npos);
  c = BaseConfig();
  c.mutable_security()->mutable_tls()->set_ca_file("/nonexistent/ca.pem");
  EXPECT_EQ(RpcSettings::FromConfig(c.security(), c.rpc()).status().code(),
            absl::StatusCode::kNotFound);
}

v1::RunConfig TlsServer(bool mtls) {
  const std::string& d = Certs::Get().dir;
  v1::RunConfig c = DefaultRunConfig();
  auto* tls = c.mutable_security()->mutable_tls();
  tls->set_cert_file(d + "/server.pem");
  tls->set_key_file(d + "/server.key");
  tls->set_ca_file(d + "/ca.pem");
  tls->set_require_client_cert(mtls);
  PELICAN_CHECK_OK(ValidateRunConfig(c));
  return c;
}

v1::RunConfig TlsClient(bool with_cert) {
  const std::string& d = Certs::Get().dir;
  v1::RunConfig c = DefaultRunConfig();
  auto* tls = c.mutable_security()->mutable_tls();
  tls->set_ca_file(d + "/ca.pem");
  if (with_cert) {
    tls->set_client_cert_file(d + "/client.pem");
    tls->set_client_key_file(d + "/client.key");
  }
  return c;
}

TEST(RpcTest, TlsServesVerifiedClientsAndRefusesPlainText) {
  EchoServer server(Settings(TlsServer(/*mtls=*/false)));
  grpc::Status st = EchoServer::CallSay(Settings(TlsClient(false)), server.address());
  EXPECT_TRUE(st.ok()) << st.error_message();
  // A plain-text client cannot talk to a TLS server.
  st = EchoServer::CallSay(Settings(BaseConfig()), server.address());
  EXPECT_FALSE(st.ok());
}

TEST(RpcTest, MutualTlsRefusesClientWithoutCertificate) {
  EchoServer server(Settings(TlsServer(/*mtls=*/true)));
  grpc::Status st = EchoServer::CallSay(Settings(TlsClient(/*with_cert=*/false)), server.address());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  st = EchoServer::CallSay(Settings(TlsClient(/*with_cert=*/true)), server.address());
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST(RpcTest, MutualTlsAndTokenTogether) {
  v1::RunConfig server_cfg = TlsServer(/*mtls=*/true);
  server_cfg.mutable_security()->set_token_file(WriteToken("mtls.token", "tok"));
  EchoServer server(Settings(server_cfg));
  v1::RunConfig client = TlsClient(true);
  EXPECT_EQ(EchoServer::CallSay(Settings(client), server.address()).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  client.mutable_security()->set_token_file(WriteToken("mtls-client.token", "tok"));
  EXPECT_TRUE(EchoServer::CallSay(Settings(client), server.address()).ok());
}

TEST(RpcTest, EveryCallHasADeadline) {
  v1::RunConfig c = BaseConfig();
  c.mutable_rpc()->set_default_deadline_s(7);
  const RpcSettings s = Settings(c);
  auto ctx = s.NewClientContext();
  const auto left = ctx->deadline() - std::chrono::system_clock::now();
  EXPECT_GT(left, std::chrono::seconds(6));
  EXPECT_LE(left, std::chrono::seconds(7));
  auto short_ctx = s.NewClientContext(absl::Milliseconds(100));
  EXPECT_LE(short_ctx->deadline() - std::chrono::system_clock::now(),
            std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace pelican
