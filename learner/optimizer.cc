#include "learner/optimizer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace pelican {

double LearningRateAt(const v1::OptimizerSection& section, uint64_t step, uint64_t total_steps) {
  const double lr = section.lr();
  const uint64_t warmup = section.warmup_steps();
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (section.schedule() != v1::LR_SCHEDULE_COSINE || total_steps <= warmup) return lr;
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total_steps - warmup));
  const double floor = lr / 10.0;
  return floor + (lr - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

ModelOptimizer::ModelOptimizer(std::vector<torch::Tensor> params,
                               const v1::OptimizerSection& section, uint64_t total_steps,
                               GradientAverager averager)
    : params_(std::move(params)),
      section_(section),
      total_steps_(total_steps),
      averager_(std::move(averager)) {
  torch::optim::AdamWOptions options(section.lr());
  options.betas({section.beta1(), section.beta2()});
  options.eps(section.eps());
  options.weight_decay(section.weight_decay());
  adam_ = std::make_unique<torch::optim::AdamW>(params_, options);
}

void ModelOptimizer::ZeroGrad() {
  for (torch::Tensor& p : params_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

absl::StatusOr<OptimizerStepStats> ModelOptimizer::Step() {
  // Every rank must hand the averager the same list of tensors, so absent gradients become zeros.
  std::vector<torch::Tensor> grads;
  grads.reserve(params_.size());
  for (torch::Tensor& p : params_) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  if (averager_) {
    absl::Status status = averager_(grads);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("averaging gradients over ranks: ", status.message()));
    }
  }
  OptimizerStepStats stats;
  {
    torch::NoGradGuard no_grad;
    torch::Tensor sq = torch::zeros({}, torch::kDouble);
    for (const torch::Tensor& g : grads) sq += g.to(torch::kDouble).pow(2).sum().cpu();
    stats.grad_norm = std::sqrt(sq.item<double>());
  }
  if (!std::isfinite(stats.grad_norm)) {
    ZeroGrad();
    return absl::InternalError(absl::StrCat("gradient norm is ", stats.grad_norm,
                                            " at optimizer step ", steps_,
                                            "; the update was skipped"));
  }
  if (section_.grad_clip() > 0 && stats.grad_norm > section_.grad_clip()) {
    torch::NoGradGuard no_grad;
    const double scale = section_.grad_clip() / (stats.grad_norm + 1e-6);
    for (torch::Tensor& g : grads) g.mul_(scale);
  }
  stats.learning_rate = LearningRateAt(section_, steps_, total_steps_);
  for (auto& group : adam_->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(stats.learning_rate);
  }
  adam_->step();
  ZeroGrad();
  ++steps_;
  return stats;
}

absl::Status ModelOptimizer::Save(const std::string& path) const {
  try {
    torch::serialize::OutputArchive archive;
    adam_->save(archive);
    archive.write("pelican_steps", torch::tensor(static_cast<int64_t>(steps_)));
    archive.save_to(path);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("saving optimizer state to ", path, ": ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status ModelOptimizer::Load(const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    adam_->load(archive);
    torch::Tensor steps;
    archive.read("pelican_steps", steps);
    steps_ = static_cast<uint64_t>(steps.item<int64_t>());
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("loading optimizer state from ", path, ": ", e.what()));
  }
  return absl::OkStatus();
}

v1::OptimizerSection OfflineOptimizerSection(const v1::OptimizerSection& base, double lr,
                                             uint32_t steps) {
  v1::OptimizerSection section = base;
  section.set_lr(lr);
  section.set_warmup_steps(std::max<uint32_t>(1, steps / 20));
  section.set_schedule(v1::LR_SCHEDULE_COSINE);
  return section;
}

absl::Status OfflineStep(ModelOptimizer& optimizer, const torch::Tensor& loss, uint32_t step,
                         uint32_t total, const char* job, OfflineLosses* losses) {
  loss.backward();
  RETURN_IF_ERROR(optimizer.Step().status());
  const double value = loss.item<double>();
  if (step == 0) losses->first = value;
  losses->last = value;
  losses->steps = step + 1;
  if (total >= 10 && (step + 1) % (total / 10) == 0) {
    PELICAN_LOG(INFO) << job << " step " << step + 1 << "/" << total << " loss " << value;
  }
  return absl::OkStatus();
}

}  // namespace pelican
