#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pelican {

absl::StatusOr<HostPort> ParseHostPort(const std::string& address, bool allow_zero_port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "' is not HOST:PORT (e.g. 127.0.0.1:50051)"));
  }
  HostPort hp;
  hp.host = address.substr(0, colon);
  if (hp.host.front() == '[') {
    if (hp.host.back() != ']') {
      return absl::InvalidArgumentError(absl::StrCat("'", address, "': unbalanced '['"));
    }
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  if (!absl::SimpleAtoi(address.substr(colon + 1), &hp.port) || hp.port < 0 || hp.port > 65535 ||
      (hp.port == 0 && !allow_zero_port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "': port must be ", allow_zero_port ? "0..65535" : "1..65535"));
  }
  return hp;
}

absl::StatusOr<int> ListenTcp(const HostPort& address, int backlog, int* bound_port) {
  const bool v6 = address.host.find(':') != std::string::npos;
  sockaddr_storage ss{};
  socklen_t len;
  int rc;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(address.port);
    rc = inet_pton(AF_INET6, address.host.c_str(), &a->sin6_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(address.port);
    const std::string host = address.host == "localhost" ? "127.0.0.1" : address.host;
    rc = inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    len = sizeof(*a);
  }
  if (rc != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address.host, "' is not an IP address (or localhost)"));
  }
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket(): ", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      (backlog > 0 && ::listen(fd, backlog) != 0) ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address.host, ":", address.port, ": ", err));
  }
  *bound_port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

absl::StatusOr<int> PickFreePort(const std::string& host) {
  int port = 0;
  auto fd = ListenTcp(HostPort{host, 0}, /*backlog=*/0, &port);
  if (!fd.ok()) return fd.status();
  close(*fd);
  return port;
}

}  // namespace pelican
