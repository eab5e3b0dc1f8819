#include "common/testdata/echo_service.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace pelican::testing {

class EchoServer::Service final : public Echo::CallbackService {
 public:
  explicit Service(const RpcSettings& settings) : settings_(settings) {}

  grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* ctx, const EchoMessage* request,
                                EchoMessage* reply) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    if (grpc::Status auth = settings_.Authorize(*ctx); !auth.ok()) {
      reactor->Finish(auth);
      return reactor;
    }
    reply->set_text(absl::StrCat("echo: ", request->text()));
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const RpcSettings settings_;
};

EchoServer::EchoServer(const RpcSettings& settings) : service_(new Service(settings)) {
  grpc::ServerBuilder builder;
  settings.ConfigureServer("127.0.0.1:0", &builder, &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  PELICAN_CHECK(server_ != nullptr && port_ > 0) << "echo server did not start";
}

EchoServer::~EchoServer() { server_->Shutdown(); }

std::string EchoServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

grpc::Status EchoServer::CallSay(const RpcSettings& client, const std::string& address,
                                 std::string* reply) {
  auto stub = Echo::NewStub(client.MakeChannel(address));
  auto ctx = client.NewClientContext(absl::Seconds(10));
  EchoMessage req, resp;
  req.set_text("hello");
  grpc::Status st = stub->Say(ctx.get(), req, &resp);
  if (reply != nullptr) *reply = resp.text();
  return st;
}

}  // namespace pelican::testing
