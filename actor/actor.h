// The actor role (`pelican actor`): stateless rollout generation.
//
//   RegisterActor ─► WatchWeights stream (a thread assembling versions) ─► wait for weights
//   loop { apply the newest complete version (version and checksum checked by the assembler)
//          ─► LeasePrompts ─► Generate (n samples per prompt, KV cache, seeded)
//          ─► Score (deadline, retries) ─► PushRollouts (idempotent retry on the same batch_seq) }
//
// A sample without a real score is never pushed: when a Score call fails for good, or a sample's
// own result is an error, that lease is not pushed and the learner hands it out again when it
// expires. Nothing the actor holds is needed after a restart; SIGTERM ends the loop between
// batches (the batch in progress is pushed first).
//
// Thread safety: Create and Run on one thread; the weight stream has its own.
#ifndef PELICAN_ACTOR_ACTOR_H_
#define PELICAN_ACTOR_ACTOR_H_

#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/rpc.h"
#include "common/signals.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

struct ActorOptions {
  std::string learner;  // host:port of LearnerService
  std::string reward;   // RewardService target; "dns:///name:port" for round robin
  std::string name;     // shown in the learner's logs; default host:pid
  std::shared_ptr<prometheus::Registry> registry;
};

class Actor {
 public:
  static absl::StatusOr<std::unique_ptr<Actor>> Create(const v1::RunConfig& config,
                                                       const RpcSettings& rpc,
                                                       const ActorOptions& options);
  ~Actor();
  // Runs until the learner says the run is done or `signals` asks for shutdown.
  absl::Status Run(SignalWatcher& signals);

 private:
  class Impl;
  explicit Actor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pelican

#endif  // PELICAN_ACTOR_ACTOR_H_
