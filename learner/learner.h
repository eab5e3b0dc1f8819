// The learner role (`pelican learner`): everything between the config and a trained policy.
//
//   Create: task data ─► tokenizer ─► models (from the newest valid checkpoint of the run
//           directory when there is one) ─► prompt source + ledger ─► trainer ─► gRPC server
//   Run:    publish weights ─► loop { wait for a full batch (ledger) ─► RlTrainer::Step
//           ─► new policy version: ledger + WeightStore ─► metrics + metrics.jsonl
//           ─► checkpoint every K steps or on SIGUSR1 } ─► final checkpoint ─► summary.json
//
// SIGTERM / Ctrl-C: the step in progress finishes, a checkpoint is written, the ledger ends open
// leases as dropped "shutdown", and Run returns OK. A run directory holding checkpoints resumes
// from the newest one that verifies (the config fingerprint must match).
//
// Thread safety: Create and Run on one thread; gRPC handlers run on gRPC's threads against the
// thread-safe ledger and weight store.
#ifndef PELICAN_LEARNER_LEARNER_H_
#define PELICAN_LEARNER_LEARNER_H_

#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/rpc.h"
#include "common/signals.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

struct LearnerOptions {
  // Run directory: checkpoints/, metrics.jsonl, summary.json, data/.
  std::string run_dir;
  // gRPC address of LearnerService (port 0 picks one).
  std::string listen = "127.0.0.1:0";
  std::shared_ptr<prometheus::Registry> registry;
};

class Learner {
 public:
  static absl::StatusOr<std::unique_ptr<Learner>> Create(const v1::RunConfig& config,
                                                         const RpcSettings& rpc,
                                                         const LearnerOptions& options);
  ~Learner();

  // The bound gRPC port.
  int port() const;
  // Trains until learner.total_steps or a shutdown request from `signals`; see the file comment.
  absl::Status Run(SignalWatcher& signals);

 private:
  class Impl;
  explicit Learner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_LEARNER_H_
