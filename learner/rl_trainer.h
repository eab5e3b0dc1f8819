// One RL training step on a batch of scored rollouts: PPO (with a critic), GRPO, RLOO or
// REINFORCE++, as learner.algorithm says, built from the pure tensor functions of advantages.h,
// kl.h, losses.h and rewards.h.
//
//   RolloutBatch (global, every rank holds it)
//     ──► rewards: normalise (running moments) / clip                         [B]
//     ──► this rank's shard of whole groups
//     ──► rollout pass, no grad, in micro-batches: old logprobs, reference logprobs, values
//     ──► KL to the reference (in the reward or in the loss) ──► advantages, returns
//     ──► ppo_epochs × mini_batches: micro-batches forward/backward (loss scaled by its share of
//         the global mini-batch) ──► ModelOptimizer::Step (gradients averaged over ranks)
//     ──► KL controller update, statistics averaged over ranks
//
// One epoch of one mini-batch with no reference model skips the rollout pass: the weights have not
// changed when each micro-batch runs, so the training forward's detached logprobs and values are
// the old ones, and PPO's GAE runs per micro-batch on those values (with advantage whitening,
// only when the shard fits one micro-batch). The update is the same; the step costs one pass.
//
// Memory is set by micro_batch_size, not by the rollout size: no pass ever holds more than one
// micro-batch's activations. Randomness (the mini-batch shuffles) is drawn from generators seeded
// by (run.seed, step, epoch), so a resumed run shuffles exactly as an uninterrupted one.
//
// Data parallel: every rank gets the same global batch and trains on rows
// [rank * B / R, (rank + 1) * B / R) (whole groups: B / R must be a multiple of the group size).
// Each micro-batch's loss is weighted by its share of the global mini-batch's tokens (or sequences)
// times R, so after the ranks' gradients are averaged the update is the same as one rank's on the
// whole batch. Advantage whitening uses the statistics of the rank's own shard.
//
// Thread safety: none; the learner's training thread owns the trainer.
#ifndef PELICAN_LEARNER_RL_TRAINER_H_
#define PELICAN_LEARNER_RL_TRAINER_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/model/transformer.h"
#include "learner/kl.h"
#include "learner/optimizer.h"
#include "learner/rewards.h"
#include "learner/rollout_batch.h"
#include "pelican/v1/config.pb.h"
#include "pelican/v1/learner_state.pb.h"

namespace pelican {

struct RlModels {
  // Trained. Has a value head when learner.value_model is HEAD and the algorithm is PPO.
  Transformer policy{nullptr};
  // Frozen; null when learner.kl.coef is 0 (no KL is computed then).
  Transformer reference{nullptr};
  // Trained separate critic (PPO with value_model SEPARATE); null otherwise.
  Transformer critic{nullptr};
};

// Per-token outputs of a model over the completion part of input_ids (see rollout_batch.h).
struct CompletionOutputs {
  torch::Tensor logprobs;  // [b, C] float32, of completion_ids under logits / temperature
  torch::Tensor entropy;   // [b, C] float32, when asked for
  torch::Tensor values;    // [b, C] float32, when asked for (the model needs a value head)
};

// Runs `model` over a batch's rows and reads its outputs at the completion positions: column
// P - 1 + t predicts completion token t and holds the value of the state before it.
// `temperature` <= 0 means greedy sampling and is taken as 1.
absl::StatusOr<CompletionOutputs> ForwardCompletions(Transformer& model, const RolloutBatch& batch,
                                                     double temperature, bool with_logprobs,
                                                     bool with_entropy, bool with_values);

// Everything a step reports (averaged over ranks where it is a per-rank quantity).
struct RlStepStats {
  uint64_t step = 0;  // the step just taken (1-based count of steps done)
  double reward_mean = 0.0;
  double reward_std = 0.0;
  double kl = 0.0;  // mean per-sequence KL(policy || reference) at rollout time
  double kl_coef = 0.0;
  double entropy = 0.0;
  double policy_loss = 0.0;
  double value_loss = 0.0;
  double clip_fraction = 0.0;
  double value_clip_fraction = 0.0;
  double approx_kl = 0.0;
  double is_truncated_fraction = 0.0;
  double grad_norm = 0.0;
  double value_grad_norm = 0.0;
  double learning_rate = 0.0;
  double response_length = 0.0;  // mean completion tokens per sequence
  int64_t sequences = 0;
  int64_t tokens = 0;  // completion tokens in the global batch
  double forward_backward_s = 0.0;
  double optimizer_s = 0.0;  // averaging over ranks, clipping and the AdamW update
};

class RlTrainer {
 public:
  // Validates the learner section against the models (a critic or value head for PPO, a
  // reference when kl.coef > 0, prompts_per_step × n divisible by world_size in whole groups,
  // mini_batches dividing each rank's rows). INVALID_ARGUMENT naming the setting otherwise.
  static absl::StatusOr<std::unique_ptr<RlTrainer>> Create(const v1::RunConfig& config,
                                                           RlModels models, int rank,
                                                           int world_size,
                                                           GradientAverager averager = nullptr);

  // One training step on `batch` (the same global batch on every rank).
  absl::StatusOr<RlStepStats> Step(const RolloutBatch& batch);

  // Steps taken so far.
  uint64_t steps() const { return steps_; }
  double kl_coef() const { return kl_state_.coef; }
  // Overrides the KL coefficient (the guard's raise-KL action); kept by the adaptive controller as
  // its new starting point.
  void set_kl_coef(double coef) { kl_state_.coef = coef; }
  Transformer& policy() { return models_.policy; }
  Transformer& critic() { return models_.critic; }

  // The trainer's state besides the weights: step, KL controller, reward moments.
  v1::TrainerState State() const;
  // Optimizer states (policy_optimizer.pt, critic_optimizer.pt) under `dir`.
  absl::Status SaveOptimizers(const std::string& dir) const;
  // Continues from a saved state: the weights are loaded by the caller (they are the models).
  absl::Status Restore(const v1::TrainerState& state, const std::string& optimizer_dir);
  // Loads only the optimizer moments saved under `dir` (the guard's rollback: the step count,
  // KL coefficient and reward moments go on).
  absl::Status RestoreOptimizers(const std::string& dir);

 private:
  RlTrainer(const v1::RunConfig& config, RlModels models, int rank, int world_size,
            GradientAverager averager, KlControllerConfig kl_config);

  const v1::RunConfig config_;
  const v1::LearnerSection& learner_;
  RlModels models_;
  const int rank_;
  const int world_size_;
  GradientAverager averager_;
  const KlControllerConfig kl_config_;
  KlControllerState kl_state_;
  RunningMoments reward_moments_;
  std::unique_ptr<ModelOptimizer> policy_optimizer_;
  std::unique_ptr<ModelOptimizer> critic_optimizer_;  // separate critic only
  uint64_t steps_ = 0;
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_RL_TRAINER_H_
