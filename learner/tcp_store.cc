#include "learner/tcp_store.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/net.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

// Bounds that keep a stray connection (a port scanner, a wrong client) from making the server
// allocate without limit. Real keys are short; the largest value is a rank's Gloo address list.
constexpr uint32_t kMaxKeyBytes = 4096;
constexpr uint32_t kMaxValueBytes = 64u << 20;
constexpr char kOpSet = 'S';
constexpr char kOpGet = 'G';
constexpr char kFound = 0;
constexpr char kNotFound = 1;

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetLittleEndian(const std::string& bytes, size_t offset, int size) {
  uint64_t v = 0;
  for (int i = 0; i < size; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return v;
}

int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const int64_t ms =
      absl::ToInt64Milliseconds(absl::Ceil(deadline - absl::Now(), absl::Milliseconds(1)));
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1 << 30));
}

// Reads (or, with `write`, writes) exactly `n` bytes on the non-blocking socket `fd` before
// `deadline` (InfiniteFuture: no deadline). UNAVAILABLE when the peer closes the connection.
absl::Status TransferAll(int fd, bool write, char* buf, size_t n, absl::Time deadline) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r =
        write ? send(fd, buf + done, n - done, MSG_NOSIGNAL) : recv(fd, buf + done, n - done, 0);
    if (r > 0) {
      done += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) return absl::UnavailableError("connection closed by the peer");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return absl::UnavailableError(std::strerror(errno));
    }
    pollfd p{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
    const int timeout_ms = PollTimeoutMs(deadline);
    if (timeout_ms == 0) return absl::DeadlineExceededError("no answer in time");
    const int pr = poll(&p, 1, timeout_ms);
    if (pr < 0 && errno != EINTR) return absl::UnavailableError(std::strerror(errno));
  }
  return absl::OkStatus();
}

absl::Status ReadString(int fd, size_t n, absl::Time deadline, std::string* out) {
  out->resize(n);
  return TransferAll(fd, /*write=*/false, out->data(), n, deadline);
}

void SetNonBlockingNoDelay(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// One non-blocking connect attempt to `ai`, waiting for it until `deadline`.
absl::StatusOr<int> ConnectOnce(const addrinfo& ai, absl::Time deadline) {
  const int fd = socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket(): ", std::strerror(errno)));
  SetNonBlockingNoDelay(fd);
  if (connect(fd, ai.ai_addr, ai.ai_addrlen) != 0 && errno != EINPROGRESS) {
    const std::string err = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(err);
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof(err);
  if (poll(&p, 1, PollTimeoutMs(deadline)) != 1 ||
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    close(fd);
    return absl::UnavailableError(err != 0 ? std::strerror(err) : "connect timed out");
  }
  return fd;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server

absl::StatusOr<std::unique_ptr<TcpStoreServer>> TcpStoreServer::Start(const std::string& bind_host,
                                                                      int port) {
  int bound_port = 0;
  ASSIGN_OR_RETURN(const int listen_fd,
                   ListenTcp(HostPort{bind_host, port}, /*backlog=*/1024, &bound_port));
  // Non-blocking, so that a client that resets between poll and accept cannot block accept.
  fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
  int wake[2];
  if (pipe2(wake, O_CLOEXEC) != 0) {
    close(listen_fd);
    return absl::InternalError(absl::StrCat("pipe2(): ", std::strerror(errno)));
  }
  std::unique_ptr<TcpStoreServer> server(
      new TcpStoreServer(listen_fd, wake[0], wake[1], bound_port));
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

TcpStoreServer::TcpStoreServer(int listen_fd, int wake_read_fd, int wake_write_fd, int port)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      port_(port) {}

TcpStoreServer::~TcpStoreServer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;  // also wakes Serve threads waiting in Get
    // shutdown (not close) so that a Serve thread blocked in poll wakes up; it closes its fd.
    for (int fd : conn_fds_) shutdown(fd, SHUT_RDWR);
  }
  const char byte = 0;
  while (write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  accept_thread_.join();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(conn_threads_);
  }
  for (std::thread& t : threads) t.join();
  close(listen_fd_);
  close(wake_read_fd_);
  close(wake_write_fd_);
}

void TcpStoreServer::AcceptLoop() {
  while (true) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents != 0) return;
    if ((p[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // EAGAIN: the client went away between poll and accept. Anything else (EMFILE) would make
      // poll report the same pending connection at once: pause instead of spinning.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        absl::SleepFor(absl::Milliseconds(10));
      }
      continue;
    }
    SetNonBlockingNoDelay(fd);
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      close(fd);
      return;
    }
    conn_fds_.push_back(fd);
    conn_threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TcpStoreServer::Serve(int fd) {
  const absl::Time no_deadline = absl::InfiniteFuture();
  std::string header, key, size_bytes, value;
  while (true) {
    // Any read or write error ends this connection; the client reconnects if it still cares.
    if (!ReadString(fd, 5, no_deadline, &header).ok()) break;
    const char op = header[0];
    const uint32_t key_size = static_cast<uint32_t>(GetLittleEndian(header, 1, 4));
    if ((op != kOpSet && op != kOpGet) || key_size > kMaxKeyBytes) break;
    if (!ReadString(fd, key_size, no_deadline, &key).ok()) break;
    if (!ReadString(fd, 4, no_deadline, &size_bytes).ok()) break;
    const uint32_t value_size = static_cast<uint32_t>(GetLittleEndian(size_bytes, 0, 4));
    if (value_size > kMaxValueBytes || (op == kOpGet && value_size != 8)) break;
    if (!ReadString(fd, value_size, no_deadline, &value).ok()) break;

    std::string reply;
    if (op == kOpSet) {
      absl::MutexLock lock(&mu_);
      data_[key] = std::move(value);
      reply.push_back(kFound);
      PutU32(&reply, 0);
    } else {
      // Cap the wait so that a garbage request cannot park this thread for years.
      const uint64_t wait_ms = std::min<uint64_t>(GetLittleEndian(value, 0, 8), 24 * 3600 * 1000);
      absl::MutexLock lock(&mu_);
      const auto ready = [this, &key]() { return stopping_ || data_.contains(key); };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(wait_ms));
      const auto it = data_.find(key);
      if (it == data_.end()) {
        reply.push_back(kNotFound);
        PutU32(&reply, 0);
      } else {
        reply.push_back(kFound);
        PutU32(&reply, static_cast<uint32_t>(it->second.size()));
        reply += it->second;
      }
    }
    if (!TransferAll(fd, /*write=*/true, reply.data(), reply.size(), no_deadline).ok()) break;
  }
  absl::MutexLock lock(&mu_);
  conn_fds_.erase(std::find(conn_fds_.begin(), conn_fds_.end(), fd));
  close(fd);  // under mu_, so that the destructor never shuts down a recycled descriptor
}

// ---------------------------------------------------------------------------------------------
// Client

absl::StatusOr<std::unique_ptr<TcpStoreClient>> TcpStoreClient::Connect(const std::string& host,
                                                                        int port,
                                                                        absl::Duration timeout) {
  std::unique_ptr<TcpStoreClient> client(new TcpStoreClient(host, port, timeout));
  absl::MutexLock lock(&client->mu_);
  RETURN_IF_ERROR(client->EnsureConnected(absl::Now() + timeout));
  return client;
}

TcpStoreClient::TcpStoreClient(std::string host, int port, absl::Duration timeout)
    : host_(std::move(host)),
      port_(port),
      timeout_(timeout),
      address_(absl::StrCat(host_, ":", port_)) {}

TcpStoreClient::~TcpStoreClient() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) close(fd_);
}

absl::Status TcpStoreClient::EnsureConnected(absl::Time deadline) {
  if (fd_ >= 0) return absl::OkStatus();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string last_error;
  absl::Duration backoff = absl::Milliseconds(20);
  while (true) {
    addrinfo* list = nullptr;
    const int gai = getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &list);
    if (gai != 0) {
      // A name that does not resolve may be a DNS hiccup at job start; retry like a refusal.
      last_error = absl::StrCat("cannot resolve '", host_, "': ", gai_strerror(gai));
    } else {
      for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        auto fd = ConnectOnce(*ai, deadline);
        if (fd.ok()) {
          fd_ = *fd;
          break;
        }
        last_error = std::string(fd.status().message());
      }
      freeaddrinfo(list);
      if (fd_ >= 0) return absl::OkStatus();
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    absl::SleepFor(std::min(backoff, left));  // then one last try at the deadline
    backoff = std::min(backoff * 2, absl::Milliseconds(500));
  }
  return absl::UnavailableError(absl::StrCat("could not connect to the rendezvous store at ",
                                             address_, " (hosted by rank 0)",
                                             "; last error: ", last_error));
}

absl::Status TcpStoreClient::Call(char op, const std::string& key, const std::string& value,
                                  absl::Time deadline, std::string* reply, bool* found) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureConnected(deadline));
  std::string request;
  request.push_back(op);
  PutU32(&request, static_cast<uint32_t>(key.size()));
  request += key;
  PutU32(&request, static_cast<uint32_t>(value.size()));
  request += value;
  std::string header;
  absl::Status s = TransferAll(fd_, /*write=*/true, request.data(), request.size(), deadline);
  if (s.ok()) s = ReadString(fd_, 5, deadline, &header);
  if (s.ok()) {
    *found = header[0] == kFound;
    s = ReadString(fd_, GetLittleEndian(header, 1, 4), deadline, reply);
  }
  if (!s.ok()) {
    // The stream may be mid-message now; start over on the next call.
    close(fd_);
    fd_ = -1;
    return absl::Status(s.code(), absl::StrCat("rendezvous store at ", address_,
                                               " (hosted by rank 0): ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status TcpStoreClient::Set(const std::string& key, const std::string& value) {
  if (key.size() > kMaxKeyBytes || value.size() > kMaxValueBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("store key '", key, "' or its value is too big"));
  }
  std::string reply;
  bool found = false;
  return Call(kOpSet, key, value, absl::Now() + timeout_, &reply, &found);
}

absl::StatusOr<std::string> TcpStoreClient::Get(const std::string& key, absl::Duration wait,
                                                absl::Duration io_timeout) {
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("store key '", key, "' is too big"));
  }
  wait = std::max(wait, absl::ZeroDuration());
  std::string wait_ms;
  PutU64(&wait_ms, static_cast<uint64_t>(absl::ToInt64Milliseconds(wait)));
  std::string reply;
  bool found = false;
  // The server holds the reply until the key appears or `wait` ends; the I/O deadline adds the
  // usual timeout on top so a slow network is not mistaken for an unset key.
  if (io_timeout == absl::InfiniteDuration()) io_timeout = timeout_;
  RETURN_IF_ERROR(Call(kOpGet, key, wait_ms, absl::Now() + wait + io_timeout, &reply, &found));
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("store key '", key, "' was not set within ", absl::FormatDuration(wait)));
  }
  return reply;
}

}  // namespace pelican
