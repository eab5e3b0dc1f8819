// A small TCP key-value store for the rendezvous of data-parallel ranks (distributed.h): rank 0
// hosts a TcpStoreServer at MASTER_ADDR:MASTER_PORT, every rank (rank 0 included) talks to it
// through a TcpStoreClient. Ranks publish their Gloo addresses, the NCCL unique id and which
// collective they last entered (so a timed-out collective can name the rank that never came).
//
// LibTorch's c10d::TCPStore could host the rendezvous too; this one stays because every call has
// its own deadline, so a rank whose collective timed out can probe a hung rank 0 in seconds
// (distributed.cc, Diagnose). c10d's Gloo sees it as a c10d::Store (gloo_ops.cc). It is not a
// database: values live in memory on rank 0 and die with it; keys are never deleted (a job writes a
// few per rank).
//
// Wire format (little-endian), one request then one reply on a connection, in order:
//   request: u8 op ('S' set, 'G' get), u32 key size, key, u32 value size, value
//            (for 'G' the value is the u64 number of milliseconds to wait for the key)
//   reply:   u8 status (0 found/stored, 1 not set in time), u32 value size, value
#ifndef PELICAN_LEARNER_TCP_STORE_H_
#define PELICAN_LEARNER_TCP_STORE_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pelican {

// Serves the store on a listening socket: one thread accepts, one thread per connection answers
// (a job has one connection per rank). Thread-safe; the destructor stops every thread, waking
// clients blocked in Get with an error.
class TcpStoreServer {
 public:
  // Listens on `bind_host` ("0.0.0.0", "::" or a local IP address) at `port` (0: any free port).
  static absl::StatusOr<std::unique_ptr<TcpStoreServer>> Start(const std::string& bind_host,
                                                               int port);
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;

  int port() const { return port_; }

 private:
  TcpStoreServer(int listen_fd, int wake_read_fd, int wake_write_fd, int port);
  void AcceptLoop();
  void Serve(int fd);

  // Constant after construction.
  const int listen_fd_;
  const int wake_read_fd_;  // a pipe written by the destructor to end AcceptLoop's poll
  const int wake_write_fd_;
  const int port_;
  std::thread accept_thread_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::string> data_ ABSL_GUARDED_BY(mu_);
  std::vector<int> conn_fds_ ABSL_GUARDED_BY(mu_);  // shut down by the destructor
  std::vector<std::thread> conn_threads_ ABSL_GUARDED_BY(mu_);
};

// One connection to a TcpStoreServer. Every call has a deadline, so a hung or dead server gives
// DEADLINE_EXCEEDED or UNAVAILABLE, never a hang. After an I/O error the connection is dropped and
// the next call reconnects. Thread-safe (calls are serialized).
class TcpStoreClient {
 public:
  // Connects to host:port (a name or an IP address), retrying while the server is not up yet
  // (other ranks usually start before rank 0 listens) for at most `timeout`, which is also the
  // I/O deadline of every later call.
  static absl::StatusOr<std::unique_ptr<TcpStoreClient>> Connect(const std::string& host, int port,
                                                                 absl::Duration timeout);
  ~TcpStoreClient();
  TcpStoreClient(const TcpStoreClient&) = delete;
  TcpStoreClient& operator=(const TcpStoreClient&) = delete;

  absl::Status Set(const std::string& key, const std::string& value);
  // The value of `key`, waiting up to `wait` for another client to set it; NOT_FOUND naming the
  // key when it is still unset then (other codes: the store itself failed, e.g. DEADLINE_EXCEEDED
  // or UNAVAILABLE when it does not answer). The server must answer within `wait` plus
  // `io_timeout` (default: the timeout given to Connect); a shorter one suits a quick probe.
  absl::StatusOr<std::string> Get(const std::string& key, absl::Duration wait,
                                  absl::Duration io_timeout = absl::InfiniteDuration());

  // "host:port", for messages.
  const std::string& address() const { return address_; }

 private:
  TcpStoreClient(std::string host, int port, absl::Duration timeout);
  absl::Status EnsureConnected(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One request/reply exchange; `*found` is false when the server answered "not set in time".
  absl::Status Call(char op, const std::string& key, const std::string& value, absl::Time deadline,
                    std::string* reply, bool* found);

  // Constant after construction.
  const std::string host_;
  const int port_;
  const absl::Duration timeout_;
  const std::string address_;

  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_TCP_STORE_H_
