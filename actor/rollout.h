// One batch of rollouts, the part of an actor's round between the lease and the push:
//
//   leased prompts ──► Generate (n samples each) ──► ScoreRequest ──► RewardClient::Score
//     ──► a trajectory per sample of every lease whose samples all got a reward
//
// A sample without a real score is never turned into a trajectory: when the Score call fails, or
// any sample of a lease carries an error, the whole lease is left out (the learner hands it out
// again when it expires). Shared by the actor and bench/pipeline_bench, which measures this stage
// on its own.
//
// Thread safety: none beyond that of the model and the client it is given.
#ifndef PELICAN_ACTOR_ROLLOUT_H_
#define PELICAN_ACTOR_ROLLOUT_H_

#include <google/protobuf/repeated_ptr_field.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/model/generate.h"
#include "common/model/model_config.h"
#include "common/reward_client.h"
#include "common/tokenizer/tokenizer.h"
#include "pelican/v1/config.pb.h"
#include "pelican/v1/learner.pb.h"

namespace pelican {

// An actor's generation settings: actors.sampling and actors.max_kv_cache_mib from the config,
// EOS and pad ids from the model's generation_config.json. Bad sampling settings are an error.
absl::StatusOr<GenerateOptions> ActorGenerateOptions(const v1::RunConfig& config,
                                                     const GenerationConfig& generation);

// Who made the rollouts: stamped on every trajectory.
struct RolloutSource {
  std::string actor_id;
  std::string trajectory_id_prefix;  // trajectory i of the batch is "<prefix><i>"
  uint64_t policy_version = 0;
};

struct Rollouts {
  std::vector<v1::Trajectory> trajectories;
  // The Score call's own failure (after its retries): nothing was scored. OK otherwise.
  absl::Status score_status;
  // The code of every sample whose result was an error.
  std::vector<absl::StatusCode> sample_errors;
  int64_t completion_tokens = 0;  // of the trajectories
  int64_t score_retries = 0;
  double generate_s = 0.0;
  double score_s = 0.0;
};

// Generates for `prompts` with `options` and `generator`, then scores through `reward`. Errors are
// those of Generate (bad prompts, a KV cache that cannot fit); a failed Score is reported in
// Rollouts::score_status, not as an error.
absl::StatusOr<Rollouts> GenerateAndScore(
    Transformer& model, const Tokenizer& tokenizer,
    const google::protobuf::RepeatedPtrField<v1::LeasedPrompt>& prompts,
    const GenerateOptions& options, at::Generator& generator, RewardClient& reward,
    const RolloutSource& source);

}  // namespace pelican

#endif  // PELICAN_ACTOR_ROLLOUT_H_
