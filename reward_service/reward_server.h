// The gRPC RewardService of one reward replica (DESIGN.md, "The reward service").
//
//   Score call ──auth, validate──► DynamicBatcher (per scorer) ──ScoreSamples──► results ──► reply
//
// Health (grpc.health.v1) says SERVING only once the server is up with its scorers built, and
// NOT_SERVING from the moment Drain starts. Drain finishes in-flight calls, then stops.
//
// Thread safety: all methods may be called from any thread; Drain is idempotent.
#ifndef PELICAN_REWARD_SERVICE_REWARD_SERVER_H_
#define PELICAN_REWARD_SERVICE_REWARD_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/rpc.h"
#include "pelican/v1/config.pb.h"
#include "pelican/v1/reward.pb.h"
#include "reward_service/sample_scoring.h"
#include "reward_service/scorer_factory.h"

namespace pelican::reward {

struct RewardServerOptions {
  // HOST:PORT to serve on; port 0 picks a free one (see RewardServer::port).
  std::string listen = "127.0.0.1:0";
  // Metrics are registered here; may be null (no metrics).
  std::shared_ptr<prometheus::Registry> registry;
  // Turns ids into text for text-based scorers; empty = samples must carry their text.
  TextDecoder decode;
  // Ids must lie in [0, vocab_size); 0 = not checked (no tokenizer).
  int64_t vocab_size = 0;
  std::string tokenizer_fingerprint;
  // Loaded reward models, reported by Info (e.g. RewardModelScorer::models() of each built).
  std::vector<v1::RewardModelInfo> reward_models;
  // Batching threads per scorer.
  int workers = 1;
};

class RewardServer {
 public:
  // Builds the service around `scorers` and starts serving with `rpc` security and limits.
  static absl::StatusOr<std::unique_ptr<RewardServer>> Start(const v1::RewardSection& config,
                                                             std::unique_ptr<ScorerSet> scorers,
                                                             const RpcSettings& rpc,
                                                             RewardServerOptions options);
  ~RewardServer();

  int port() const { return port_; }

  // Health NOT_SERVING at once; new calls are refused with UNAVAILABLE; in-flight calls finish
  // (up to `grace`, after which they are cancelled); then the server stops.
  void Drain(absl::Duration grace);

  // Blocks until the server has stopped (after Drain).
  void Wait();

 private:
  class Service;
  RewardServer() = default;

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> drained_{false};
};

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_REWARD_SERVER_H_
