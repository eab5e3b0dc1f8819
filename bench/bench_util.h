// Helpers shared by the benchmarks: a monotonic clock in seconds, order statistics, and a
// loopback TCP connection (the limit several benchmarks measure against).
#ifndef PELICAN_BENCH_BENCH_UTIL_H_
#define PELICAN_BENCH_BENCH_UTIL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "common/net.h"
#include "common/status_macros.h"

namespace pelican::bench {

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The q-quantile (0..1) of `v`; 0 for none.
inline double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

inline double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

// Runs `server(fd)` on a thread against the accepted end and `client(fd)` here against the
// connecting end of one loopback TCP connection with TCP_NODELAY on both ends; closes both.
template <typename Server, typename Client>
void OverLoopbackTcp(Server server, Client client) {
  int port = 0;
  absl::StatusOr<int> listener = ListenTcp({"127.0.0.1", 0}, 1, &port);
  PELICAN_CHECK_OK(listener.status());
  const int one = 1;
  std::thread peer([&] {
    const int fd = accept(*listener, nullptr, nullptr);
    PELICAN_CHECK(fd >= 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    server(fd);
    close(fd);
  });
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  PELICAN_CHECK(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  client(fd);
  close(fd);
  peer.join();
  close(*listener);
}

}  // namespace pelican::bench

#endif  // PELICAN_BENCH_BENCH_UTIL_H_
