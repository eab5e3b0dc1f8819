// The optimisation half of every trainer (RL, SFT, reward model): AdamW, the learning-rate
// schedule, gradient averaging across data-parallel ranks, clipping, and the optimizer's state in
// checkpoints.
//
//   backward() on each micro-batch (losses pre-scaled by their share of the mini-batch)
//     ──► ModelOptimizer::Step: average gradients over ranks ──► clip ──► lr(step) ──► AdamW
//
// Thread safety: none; one trainer thread owns it.
#ifndef PELICAN_LEARNER_OPTIMIZER_H_
#define PELICAN_LEARNER_OPTIMIZER_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

// Replaces each tensor with its mean over the data-parallel ranks, in place. Null or a no-op for
// one rank. Set from a ProcessGroup (learner/distributed.h) by the learner.
using GradientAverager = std::function<absl::Status(std::vector<torch::Tensor>&)>;

// The learning rate at optimizer step `step` (0-based) of `total_steps`: linear warm-up from
// lr / warmup_steps to lr over the first warmup_steps steps, then constant, or a cosine decay
// from lr to lr / 10 at total_steps (OpenRLHF's and veRL's default floor, so late steps still
// learn).
double LearningRateAt(const v1::OptimizerSection& section, uint64_t step, uint64_t total_steps);

struct OptimizerStepStats {
  double grad_norm = 0.0;  // global L2 norm before clipping (after averaging over ranks)
  double learning_rate = 0.0;
};

class ModelOptimizer {
 public:
  // `params` are the trainable parameters (requires_grad); `total_steps` is how many Step calls
  // the schedule spans.
  ModelOptimizer(std::vector<torch::Tensor> params, const v1::OptimizerSection& section,
                 uint64_t total_steps, GradientAverager averager = nullptr);

  // One update from the gradients accumulated since the last Step: averages them over ranks,
  // clips their global norm to grad_clip (0 = no clipping), sets the learning rate for the
  // current step, steps AdamW and zeroes the gradients. A parameter without a gradient counts as
  // zero. INTERNAL when the gradient norm is not finite (the update is skipped and the gradients
  // zeroed: one bad batch must not poison the weights; the caller decides whether to go on).
  absl::StatusOr<OptimizerStepStats> Step();

  // Optimizer steps taken so far (the schedule's position).
  uint64_t steps() const { return steps_; }
  void ZeroGrad();

  // AdamW's moments and step counts plus our step counter, in LibTorch's archive format.
  absl::Status Save(const std::string& path) const;
  absl::Status Load(const std::string& path);

 private:
  std::vector<torch::Tensor> params_;
  v1::OptimizerSection section_;
  uint64_t total_steps_;
  GradientAverager averager_;
  std::unique_ptr<torch::optim::AdamW> adam_;
  uint64_t steps_ = 0;
};

// Offline jobs (sft, rm): the learner's AdamW settings with the job's own learning rate, a 5%
// warm-up and a cosine decay over `steps`.
v1::OptimizerSection OfflineOptimizerSection(const v1::OptimizerSection& base, double lr,
                                             uint32_t steps);

// Losses of an offline job: the first and the last, and the steps taken.
struct OfflineLosses {
  double first = 0.0;
  double last = 0.0;
  uint64_t steps = 0;
};

// One step of an offline job: backward of `loss`, an optimizer step, the losses recorded, and a
// progress line ("<job> step i/total loss x") every tenth of the way.
absl::Status OfflineStep(ModelOptimizer& optimizer, const torch::Tensor& loss, uint32_t step,
                         uint32_t total, const char* job, OfflineLosses* losses);

}  // namespace pelican

#endif  // PELICAN_LEARNER_OPTIMIZER_H_
