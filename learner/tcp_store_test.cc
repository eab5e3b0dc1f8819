#include "learner/tcp_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "common/net.h"

namespace pelican {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<TcpStoreServer> StartServer() {
  auto server = TcpStoreServer::Start("127.0.0.1", 0);
  EXPECT_TRUE(server.ok()) << server.status();
  return std::move(server).value();
}

std::unique_ptr<TcpStoreClient> ConnectTo(int port, absl::Duration timeout = absl::Seconds(5)) {
  auto client = TcpStoreClient::Connect("127.0.0.1", port, timeout);
  EXPECT_TRUE(client.ok()) << client.status();
  return std::move(client).value();
}

TEST(TcpStoreTest, SetThenGetFromAnotherClient) {
  auto server = StartServer();
  auto a = ConnectTo(server->port());
  auto b = ConnectTo(server->port());
  ASSERT_TRUE(a->Set("k", std::string("v\0w", 3)).ok());
  auto v = b->Get("k", absl::ZeroDuration());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, std::string("v\0w", 3));  // binary-safe
  ASSERT_TRUE(b->Set("k", "").ok());      // overwrite, empty value
  EXPECT_EQ(a->Get("k", absl::ZeroDuration()).value(), "");
}

TEST(TcpStoreTest, GetWaitsForALaterSet) {
  auto server = StartServer();
  auto getter = ConnectTo(server->port());
  std::thread setter([port = server->port()] {
    absl::SleepFor(absl::Milliseconds(100));
    auto c = ConnectTo(port);
    EXPECT_TRUE(c->Set("late", "here").ok());
  });
  const absl::Time start = absl::Now();
  auto v = getter->Get("late", absl::Seconds(10));
  setter.join();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "here");
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(TcpStoreTest, UnsetKeyIsNotFoundAfterTheWait) {
  auto server = StartServer();
  auto c = ConnectTo(server->port());
  const absl::Time start = absl::Now();
  auto v = c->Get("never", absl::Milliseconds(200));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("never"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(190));
  // The connection is still in step after a miss.
  ASSERT_TRUE(c->Set("after", "1").ok());
  EXPECT_EQ(c->Get("after", absl::ZeroDuration()).value(), "1");
}

TEST(TcpStoreTest, ConnectRetriesUntilTheServerIsUp) {
  const int port = PickFreePort("127.0.0.1").value();
  std::unique_ptr<TcpStoreServer> server;
  std::thread starter([&] {
    absl::SleepFor(absl::Milliseconds(200));
    auto s = TcpStoreServer::Start("127.0.0.1", port);
    ASSERT_TRUE(s.ok()) << s.status();
    server = std::move(s).value();
  });
  auto client = TcpStoreClient::Connect("localhost", port, absl::Seconds(10));
  starter.join();
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->Set("x", "y").ok());
}

TEST(TcpStoreTest, ConnectGivesUpAtTheDeadline) {
  const int port = PickFreePort("127.0.0.1").value();
  const absl::Time start = absl::Now();
  auto client = TcpStoreClient::Connect("127.0.0.1", port, absl::Milliseconds(300));
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("rank 0"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(TcpStoreTest, ServerShutdownWakesABlockedGet) {
  auto server = StartServer();
  auto c = ConnectTo(server->port(), absl::Milliseconds(500));
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(100));
    server.reset();
  });
  const absl::Time start = absl::Now();
  auto v = c->Get("never", absl::Seconds(30));
  stopper.join();
  EXPECT_FALSE(v.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // And the next call reports the server gone instead of hanging.
  EXPECT_FALSE(c->Set("k", "v").ok());
}

}  // namespace
}  // namespace pelican
