#include "common/metrics.h"

#include <poll.h>
#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/net.h"
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

  ASSIGN_OR_RETURN(server->listen_fd_, ListenTcp(hp, /*backlog=*/64, &server->port_));
  MetricsServer* raw = server.get();
  server->thread_ = std::thread([raw] { raw->Serve(); });
  return server;
}

MetricsServer::~MetricsServer() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void MetricsServer::Serve() {
  while (!stop_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    // Wake up regularly to notice stop_.
    if (poll(&p, 1, 100) <= 0) continue;
    const int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    HandleConnection(conn);
    close(conn);
  }
}

void MetricsServer::HandleConnection(int fd) {
  // A slow or silent client cannot hold the endpoint for long.
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string request;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  std::string status = "200 OK";
  std::string type = "text/plain; version=0.0.4; charset=utf-8";
  std::string body;
  if (absl::StartsWith(request, "GET /metrics ") || absl::StartsWith(request, "GET /metrics?")) {
    body = prometheus::TextSerializer().Serialize(registry_->Collect());
  } else if (absl::StartsWith(request, "GET ")) {
    status = "404 Not Found";
    body = "pelican serves Prometheus metrics at /metrics\n";
  } else {
    status = "405 Method Not Allowed";
    body = "only GET /metrics\n";
  }
  const std::string response =
      absl::StrCat("HTTP/1.0 ", status, "\r\nContent-Type: ", type,
                   "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
  size_t done = 0;
  while (done < response.size()) {
    const ssize_t n = send(fd, response.data() + done, response.size() - done, MSG_NOSIGNAL);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

const std::vector<double>& LatencyBucketsSeconds() {
  static const auto* buckets = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

}  // namespace pelican
