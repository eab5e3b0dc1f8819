#include "common/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace pelican {
namespace {

// GET http://127.0.0.1:<port>/metrics over a raw socket; returns the whole response.
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

TEST(MetricsTest, ServesBuildInfoAndRegisteredMetrics) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& calls = prometheus::BuildCounter()
                    .Name("pelican_test_calls_total")
                    .Help("calls")
                    .Register(*registry)
                    .Add({{"code", "OK"}});
  calls.Increment(3);
  auto server = MetricsServer::Start("127.0.0.1:0", registry, "tester");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  const std::string body = Scrape((*server)->port());
  EXPECT_NE(body.find("200 OK"), std::string::npos) << body;
  EXPECT_NE(body.find("pelican_build_info{"), std::string::npos) << body;
  EXPECT_NE(body.find("role=\"tester\""), std::string::npos) << body;
  EXPECT_NE(body.find("pelican_test_calls_total{code=\"OK\"} 3"), std::string::npos) << body;
}

TEST(MetricsTest, BadOrBusyAddressIsAnError) {
  auto registry = std::make_shared<prometheus::Registry>();
  EXPECT_EQ(MetricsServer::Start("nonsense", registry, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = MetricsServer::Start("127.0.0.1:0", registry, "x");
  ASSERT_TRUE(first.ok());
  auto second = MetricsServer::Start(absl::StrCat("127.0.0.1:", (*first)->port()),
                                     std::make_shared<prometheus::Registry>(), "y");
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace pelican
