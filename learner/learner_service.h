// LearnerService on the learner's rank 0: how actors join, lease prompts, push trajectories and
// receive weights (learner.proto). Logic lives in PromptLedger and WeightStore; this class maps
// RPCs onto them, checks tokens and fingerprints, and tracks which actors are alive.
//
//   RegisterActor ─► fingerprints checked ─► actor id
//   LeasePrompts  ─► PromptLedger::Lease          PushRollouts ─► PromptLedger::Push
//   WatchWeights  ─► WeightsWriter reactor streaming WeightStore's latest version
//
// Thread safety: gRPC calls the handlers concurrently; all state is in thread-safe parts or
// guarded by mu_.
#ifndef PELICAN_LEARNER_LEARNER_SERVICE_H_
#define PELICAN_LEARNER_LEARNER_SERVICE_H_

#include <prometheus/registry.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/rpc.h"
#include "learner/prompt_ledger.h"
#include "learner/weight_store.h"
#include "pelican/v1/learner.grpc.pb.h"

namespace pelican {

struct LearnerServiceOptions {
  std::string run_id;
  std::string config_fingerprint;
  // "" = actors' tokenizers are not compared.
  std::string tokenizer_fingerprint;
  // An actor counts as connected while its last call is more recent than this.
  absl::Duration actor_timeout = absl::Seconds(120);
  // The policy's vocabulary: pushed token ids must lie in [0, vocab_size). 0 = ids unchecked.
  int64_t vocab_size = 0;
};

// Checks what the trainer would otherwise fail on later, or abort on: a prompt or completion id
// outside [0, vocab_size) (when vocab_size > 0), an empty completion, a non-finite reward or
// log-prob, logprobs not one per completion id. INVALID_ARGUMENT naming the trajectory (its index
// and id) and the field. A push with such a trajectory is refused whole, before the ledger sees it:
// its leases stay open and return to the queue when they expire, so nothing is lost.
absl::Status ValidateTrajectory(const v1::Trajectory& t, int index, int64_t vocab_size);

class LearnerService final : public v1::LearnerService::CallbackService {
 public:
  // `ledger`, `weights` and `clock` are not owned and must outlive the service.
  LearnerService(LearnerServiceOptions options, PromptLedger* ledger, WeightStore* weights,
                 const RpcSettings& rpc, Clock* clock);

  // Training progress shown by GetStatus and LeasePrompts (set by the trainer).
  void SetStep(uint64_t step) { step_.store(step); }
  // The run is over: LeasePrompts answers done = true.
  void SetDone() { done_.store(true); }
  uint32_t actors_connected() const;
  // Connected actors that have not yet been answered done = true (the learner waits for them
  // before it goes away, so that no actor keeps retrying a finished run).
  uint32_t actors_not_told_done() const;

  grpc::ServerUnaryReactor* RegisterActor(grpc::CallbackServerContext* ctx,
                                          const v1::RegisterActorRequest* request,
                                          v1::RegisterActorResponse* response) override;
  grpc::ServerUnaryReactor* LeasePrompts(grpc::CallbackServerContext* ctx,
                                         const v1::LeasePromptsRequest* request,
                                         v1::LeasePromptsResponse* response) override;
  grpc::ServerUnaryReactor* PushRollouts(grpc::CallbackServerContext* ctx,
                                         const v1::PushRolloutsRequest* request,
                                         v1::PushRolloutsResponse* response) override;
  grpc::ServerWriteReactor<v1::WeightChunk>* WatchWeights(
      grpc::CallbackServerContext* ctx, const v1::WatchWeightsRequest* request) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const v1::GetStatusRequest* request,
                                      v1::LearnerStatus* response) override;

 private:
  void Seen(const std::string& actor_id);

  // Constant after construction.
  const LearnerServiceOptions options_;
  PromptLedger* const ledger_;
  WeightStore* const weights_;
  const RpcSettings rpc_;
  Clock* const clock_;

  std::atomic<uint64_t> step_{0};
  std::atomic<bool> done_{false};
  mutable std::mutex mu_;
  std::map<std::string, absl::Time> last_seen_;  // guarded by mu_
  std::set<std::string> told_done_;              // guarded by mu_
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_LEARNER_SERVICE_H_
