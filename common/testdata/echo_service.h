// A real gRPC server on a loopback port serving pelican.testing.Echo with RpcSettings, the way
// every pelican service is served. For common_test only.
#ifndef PELICAN_COMMON_TESTDATA_ECHO_SERVICE_H_
#define PELICAN_COMMON_TESTDATA_ECHO_SERVICE_H_

#include <memory>
#include <string>

#include "common/rpc.h"
#include "echo.grpc.pb.h"

namespace pelican::testing {

class EchoServer {
 public:
  // Starts on 127.0.0.1 with a free port.
  explicit EchoServer(const RpcSettings& settings);
  ~EchoServer();
  std::string address() const;

  // Calls Say("hello") through a channel made by `client`; returns the call's status.
  static grpc::Status CallSay(const RpcSettings& client, const std::string& address,
                              std::string* reply = nullptr);

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace pelican::testing

#endif  // PELICAN_COMMON_TESTDATA_ECHO_SERVICE_H_
