// RlTrainer (rl_trainer.h). Over 500 lines because Step is one PPO/GRPO update read top to
// bottom: rollout pass, rewards and advantages, epochs x mini-batches x micro-batches, the rank
// average, statistics. The pieces it calls live in their own files (losses, advantages, kl,
// masked, rewards); what remains here is the order in which they run.
#include "learner/rl_trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "learner/advantages.h"
#include "learner/losses.h"
#include "learner/masked.h"
#include "learner/tensor_checks.h"

namespace pelican {
namespace {

constexpr uint32_t kTrainerStateFormat = 1;

// bf16 autocast on CUDA for the training forward passes (learner.bf16_autocast), as
// torch.autocast("cuda", dtype=torch.bfloat16) does: matmuls in bf16, reductions and the loss in
// fp32. A no-op on the CPU. LibTorch 2.x names the switches per device type.
class CudaBf16Autocast {
 public:
  explicit CudaBf16Autocast(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR >= 2
    previous_ = at::autocast::is_autocast_enabled(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    previous_ = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~CudaBf16Autocast() { Exit(); }
  // Leaves autocast early: forward passes and the loss run under it, backward does not (as
  // PyTorch recommends).
  void Exit() {
    if (!on_) return;
    on_ = false;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR >= 2
    at::autocast::set_autocast_enabled(at::kCUDA, previous_);
#else
    at::autocast::set_enabled(previous_);
#endif
  }
  CudaBf16Autocast(const CudaBf16Autocast&) = delete;
  CudaBf16Autocast& operator=(const CudaBf16Autocast&) = delete;

 private:
  bool on_;
  bool previous_ = false;
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool IsPpo(const v1::LearnerSection& learner) { return learner.algorithm() == v1::ALGORITHM_PPO; }

// The per-row tensors of the training passes, all [b, C] (or [b]) over the same rows.
struct TrainRows {
  RolloutBatch batch;
  torch::Tensor old_logprobs;
  torch::Tensor ref_logprobs;  // undefined without a reference
  torch::Tensor old_values;    // PPO only
  torch::Tensor advantages;
  torch::Tensor returns;     // PPO only
  torch::Tensor is_weights;  // truncated importance weights

  // Rows `index` (int64 [k]) with the columns trimmed to what they use.
  TrainRows Select(const torch::Tensor& index) const {
    TrainRows out;
    RolloutBatch picked = batch;
    picked.input_ids = batch.input_ids.index_select(0, index);
    picked.attention_mask = batch.attention_mask.index_select(0, index);
    picked.completion_ids = batch.completion_ids.index_select(0, index);
    picked.completion_mask = batch.completion_mask.index_select(0, index);
    picked.sampling_logprobs = batch.sampling_logprobs.index_select(0, index);
    picked.rewards = batch.rewards.index_select(0, index);
    picked.policy_lag = batch.policy_lag.index_select(0, index);
    const int64_t k = index.size(0);
    out.batch = picked.Slice(0, k);
    const int64_t c = out.batch.completion_columns();
    auto pick = [&](const torch::Tensor& t) {
      return t.defined() ? t.index_select(0, index).narrow(1, 0, c) : t;
    };
    out.old_logprobs = pick(old_logprobs);
    out.ref_logprobs = pick(ref_logprobs);
    out.old_values = pick(old_values);
    out.advantages = pick(advantages);
    out.returns = pick(returns);
    out.is_weights = pick(is_weights);
    return out;
  }
};

// Rows of `batch` in chunks of at most `size`, each trimmed to its own padding.
std::vector<RolloutBatch> Chunks(const RolloutBatch& batch, int64_t size) {
  std::vector<RolloutBatch> out;
  for (int64_t begin = 0; begin < batch.rows(); begin += size) {
    out.push_back(batch.Slice(begin, std::min(batch.rows(), begin + size)));
  }
  return out;
}

// Concatenates per-chunk [b_i, C_i] outputs into [B, C], zero-padding each chunk's columns.
torch::Tensor CatPadded(const std::vector<torch::Tensor>& parts, int64_t columns) {
  std::vector<torch::Tensor> padded;
  padded.reserve(parts.size());
  for (const torch::Tensor& p : parts) {
    padded.push_back(torch::constant_pad_nd(p, {0, columns - p.size(1)}, 0.0));
  }
  return torch::cat(padded, 0);
}

}  // namespace

absl::StatusOr<CompletionOutputs> ForwardCompletions(Transformer& model, const RolloutBatch& batch,
                                                     double temperature, bool with_logprobs,
                                                     bool with_entropy, bool with_values) {
  const int64_t P = batch.prompt_columns;
  const int64_t C = batch.completion_columns();
  if (P < 1) return absl::InvalidArgumentError("forward: rows without a prompt");
  torch::Tensor hidden = model->Hidden(batch.input_ids, batch.attention_mask);
  torch::Tensor h = hidden.narrow(1, P - 1, C);
  CompletionOutputs out;
  if (with_logprobs || with_entropy) {
    torch::Tensor logits = model->Logits(h).to(torch::kFloat);
    if (temperature > 0 && temperature != 1.0) logits = logits / temperature;
    if (with_logprobs) {
      ASSIGN_OR_RETURN(out.logprobs,
                       LogProbsFromLogits(logits, batch.completion_ids, batch.completion_mask));
    }
    if (with_entropy) {
      ASSIGN_OR_RETURN(out.entropy, EntropyFromLogits(logits, batch.completion_mask));
    }
  }
  if (with_values)
    out.values = MaskedFill0(model->Values(h).to(torch::kFloat), batch.completion_mask);
  return out;
}

RlTrainer::RlTrainer(const v1::RunConfig& config, RlModels models, int rank, int world_size,
                     GradientAverager averager, KlControllerConfig kl_config)
    : config_(config),
      learner_(config_.learner()),
      models_(std::move(models)),
      rank_(rank),
      world_size_(world_size),
      averager_(std::move(averager)),
      kl_config_(kl_config),
      kl_state_(InitialKlControllerState(kl_config)) {
  const uint64_t optimizer_steps =
      uint64_t{learner_.total_steps()} * learner_.ppo_epochs() * learner_.mini_batches();
  policy_optimizer_ = std::make_unique<ModelOptimizer>(
      models_.policy->parameters(), learner_.optimizer(), optimizer_steps, averager_);
  if (models_.critic) {
    critic_optimizer_ = std::make_unique<ModelOptimizer>(
        models_.critic->parameters(), learner_.optimizer(), optimizer_steps, averager_);
  }
  if (models_.reference) {
    models_.reference->eval();
    for (torch::Tensor& p : models_.reference->parameters()) p.set_requires_grad(false);
  }
}

absl::StatusOr<std::unique_ptr<RlTrainer>> RlTrainer::Create(const v1::RunConfig& config,
                                                             RlModels models, int rank,
                                                             int world_size,
                                                             GradientAverager averager) {
  const v1::LearnerSection& learner = config.learner();
  if (!models.policy || !models.policy->has_lm_head()) {
    return absl::InvalidArgumentError("rl trainer: the policy needs a causal LM head");
  }
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rl trainer: rank ", rank, " of world size ", world_size));
  }
  if (IsPpo(learner)) {
    const bool head = learner.value_model() == v1::VALUE_MODEL_HEAD;
    if (head && !models.policy->has_value_head()) {
      return absl::InvalidArgumentError(
          "rl trainer: learner.value_model is head but the policy has no value head");
    }
    if (!head && (!models.critic || !models.critic->has_value_head())) {
      return absl::InvalidArgumentError(
          "rl trainer: learner.value_model is separate but no critic with a value head was given");
    }
  } else if (models.critic) {
    return absl::InvalidArgumentError(
        "rl trainer: only PPO trains a critic; GRPO, RLOO and REINFORCE++ use none");
  }
  if (learner.kl().coef() > 0 && !models.reference) {
    return absl::InvalidArgumentError("rl trainer: learner.kl.coef > 0 needs a reference model");
  }
  const uint64_t group = config.actors().sampling().n();
  const uint64_t groups = learner.prompts_per_step();
  if (groups % static_cast<uint64_t>(world_size) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("learner.prompts_per_step (", groups, ") must be a multiple of the ",
                     world_size, " learner ranks: each rank trains on whole groups"));
  }
  const uint64_t rows_per_rank = groups / world_size * group;
  if (rows_per_rank % learner.mini_batches() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("learner.mini_batches (", learner.mini_batches(), ") must divide each rank's ",
                     rows_per_rank, " sequences (prompts_per_step × actors.sampling.n / ranks)"));
  }
  ASSIGN_OR_RETURN(KlControllerConfig kl_config, KlControllerConfigFromProto(learner.kl()));
  return std::unique_ptr<RlTrainer>(
      new RlTrainer(config, std::move(models), rank, world_size, std::move(averager), kl_config));
}

absl::StatusOr<RlStepStats> RlTrainer::Step(const RolloutBatch& global) {
  const int64_t B = global.rows();
  const int64_t G = config_.actors().sampling().n();
  const int64_t expected = int64_t{learner_.prompts_per_step()} * G;
  if (B != expected || global.group_size != G) {
    return absl::InvalidArgumentError(
        absl::StrCat("rl trainer: batch of ", B, " rows in groups of ", global.group_size,
                     "; the config says ", learner_.prompts_per_step(), " prompts × ", G));
  }
  const torch::Device device = models_.policy->device();
  const double temperature = config_.actors().sampling().temperature();
  const v1::LossAggregation agg = learner_.loss_aggregation();
  const bool ppo = IsPpo(learner_);
  const bool value_head = ppo && learner_.value_model() == v1::VALUE_MODEL_HEAD;
  const bool kl_on = models_.reference && kl_state_.coef > 0;
  const bool kl_in_loss = kl_on && learner_.kl().placement() == v1::KL_PLACEMENT_LOSS;
  const int64_t micro = learner_.micro_batch_size();

  RlStepStats stats;
  stats.sequences = B;
  stats.tokens = global.num_tokens();
  stats.response_length = static_cast<double>(stats.tokens) / static_cast<double>(B);
  stats.reward_mean = global.rewards.mean().item<double>();
  stats.reward_std = B > 1 ? global.rewards.std().item<double>() : 0.0;

  // Reward preprocessing on the global batch, so every rank's running moments stay identical.
  torch::Tensor rewards = global.rewards.to(torch::kFloat);
  RETURN_IF_ERROR(ValidateFinite("rewards", rewards));
  if (learner_.normalize_rewards()) {
    RETURN_IF_ERROR(reward_moments_.Update(rewards));
    ASSIGN_OR_RETURN(rewards, NormalizeRewards(rewards, reward_moments_, /*shift_mean=*/true));
  }
  ASSIGN_OR_RETURN(rewards, ClipRewards(rewards, learner_.reward_clip()));

  const int64_t rows = B / world_size_;
  TrainRows shard;
  shard.batch = global.Slice(rank_ * rows, (rank_ + 1) * rows).To(device);
  const torch::Tensor shard_rewards = rewards.slice(0, rank_ * rows, (rank_ + 1) * rows).to(device);
  const torch::Tensor mask = shard.batch.completion_mask;
  const int64_t C = shard.batch.completion_columns();

  // Rollout pass: what the policy, the reference and the critic said about the samples before
  // this step changes anything. Skipped when nothing needs it before training: one epoch of one
  // mini-batch (the policy and critic are still unchanged when each micro-batch runs, so their
  // detached logprobs and values are the old ones) and no reference (veRL does the same
  // on-policy). PPO then computes GAE per micro-batch from the training forward's values, which
  // is exact because GAE runs along each row, unless whitening needs the whole shard's moments
  // and the shard spans several micro-batches.
  const bool whiten = learner_.whiten_advantages() && (learner_.algorithm() == v1::ALGORITHM_PPO ||
                                                       learner_.algorithm() == v1::ALGORITHM_RLOO);
  const bool single_pass = learner_.ppo_epochs() == 1 && learner_.mini_batches() == 1 &&
                           !models_.reference && (!ppo || !whiten || micro >= rows);
  if (!single_pass) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> old_lp, ref_lp, values;
    for (const RolloutBatch& chunk : Chunks(shard.batch, micro)) {
      ASSIGN_OR_RETURN(
          CompletionOutputs policy_out,
          ForwardCompletions(models_.policy, chunk, temperature, true, false, value_head));
      old_lp.push_back(policy_out.logprobs);
      if (value_head) values.push_back(policy_out.values);
      if (models_.reference) {
        ASSIGN_OR_RETURN(
            CompletionOutputs ref_out,
            ForwardCompletions(models_.reference, chunk, temperature, true, false, false));
        ref_lp.push_back(ref_out.logprobs);
      }
      if (ppo && !value_head) {
        ASSIGN_OR_RETURN(
            CompletionOutputs critic_out,
            ForwardCompletions(models_.critic, chunk, temperature, false, false, true));
        values.push_back(critic_out.values);
      }
    }
    shard.old_logprobs = CatPadded(old_lp, C);
    if (!ref_lp.empty()) shard.ref_logprobs = CatPadded(ref_lp, C);
    if (!values.empty()) shard.old_values = CatPadded(values, C);
  }

  // KL to the reference at rollout time, and the advantages.
  torch::Tensor kl = torch::zeros_like(mask);
  if (models_.reference) {
    ASSIGN_OR_RETURN(
        kl, KlPerToken(shard.old_logprobs, shard.ref_logprobs, mask, learner_.kl().estimator()));
  }
  ASSIGN_OR_RETURN(torch::Tensor seq_kl, MeanSequenceKl(kl, mask));
  const double kl_coef = kl_state_.coef;
  const double reward_kl_coef = kl_on && !kl_in_loss ? kl_coef : 0.0;
  torch::Tensor seq_rewards_kl = shard_rewards - reward_kl_coef * MaskedSum(kl, mask, 1);
  switch (learner_.algorithm()) {
    case v1::ALGORITHM_PPO: {
      if (single_pass) break;  // per micro-batch, from the training forward's values
      ASSIGN_OR_RETURN(torch::Tensor token_rewards,
                       KlPenalizedRewards(shard_rewards, kl, mask, reward_kl_coef));
      ASSIGN_OR_RETURN(GaeResult gae, Gae(token_rewards, shard.old_values, mask, learner_.gamma(),
                                          learner_.gae_lambda()));
      shard.advantages = gae.advantages;
      shard.returns = gae.returns;
      break;
    }
    case v1::ALGORITHM_GRPO: {
      ASSIGN_OR_RETURN(shard.advantages, GrpoAdvantages(seq_rewards_kl, mask, G));
      break;
    }
    case v1::ALGORITHM_RLOO: {
      ASSIGN_OR_RETURN(shard.advantages, RlooAdvantages(seq_rewards_kl, mask, G));
      break;
    }
    case v1::ALGORITHM_REINFORCE_PP: {
      ASSIGN_OR_RETURN(torch::Tensor token_rewards,
                       KlPenalizedRewards(shard_rewards, kl, mask, reward_kl_coef));
      ASSIGN_OR_RETURN(ReinforcePlusPlusResult rpp,
                       ReinforcePlusPlus(token_rewards, mask, learner_.gamma()));
      shard.advantages = rpp.advantages;
      break;
    }
    default:
      return absl::InvalidArgumentError("learner.algorithm is not set");
  }
  if (whiten && shard.advantages.defined()) {
    ASSIGN_OR_RETURN(shard.advantages, WhitenAdvantages(shard.advantages, mask));
  }
  torch::Tensor truncated_fraction = torch::zeros({});
  if (!single_pass) {
    ASSIGN_OR_RETURN(TruncatedIsResult is,
                     TruncatedIsWeights(shard.old_logprobs, shard.batch.sampling_logprobs, mask,
                                        learner_.is_ratio_cap()));
    shard.is_weights = is.weights;
    truncated_fraction = is.truncated_fraction;
  }

  // Global per-rank counts for loss weighting: rank r's mini-batch m is rows
  // r * rows + perm[m * mini .. (m + 1) * mini) of the global batch.
  const bool token_level = agg == v1::LOSS_AGGREGATION_TOKEN_MEAN;
  const torch::Tensor global_units =
      (token_level ? global.completion_mask.sum(1)
                   : (global.completion_mask.sum(1) > 0).to(torch::kFloat))
          .view({world_size_, rows});
  const torch::Tensor local_units =
      token_level ? mask.sum(1).cpu() : (mask.sum(1) > 0).to(torch::kFloat).cpu();
  // In the single pass there is one mini-batch: this rank's whole shard.
  const double shard_units = local_units.sum().item<double>();

  // Training passes.
  const int64_t mini = rows / learner_.mini_batches();
  double fb_seconds = 0.0;
  double opt_seconds = 0.0;
  double sum_policy_loss = 0, sum_value_loss = 0, sum_entropy = 0, sum_clip = 0, sum_vclip = 0,
         sum_approx_kl = 0;
  double grad_norm = 0, value_grad_norm = 0, lr = 0;
  models_.policy->train();
  if (models_.critic) models_.critic->train();
  for (uint32_t epoch = 0; epoch < learner_.ppo_epochs(); ++epoch) {
    torch::Generator gen = at::detail::createCPUGenerator(config_.run().seed() * 1000003ULL +
                                                          steps_ * 1009ULL + epoch);
    const torch::Tensor perm = torch::randperm(rows, gen, torch::kLong);
    for (uint32_t m = 0; m < learner_.mini_batches(); ++m) {
      const torch::Tensor mini_rows = perm.slice(0, m * mini, (m + 1) * mini);
      const double mini_units = global_units.index_select(1, mini_rows).sum().item<double>();
      const auto fb_start = std::chrono::steady_clock::now();
      for (int64_t begin = 0; begin < mini; begin += micro) {
        const torch::Tensor idx = mini_rows.slice(0, begin, std::min(mini, begin + micro));
        const double units = local_units.index_select(0, idx).sum().item<double>();
        if (units == 0 || mini_units == 0) continue;
        const double weight = units / mini_units * world_size_;
        TrainRows mb = shard.Select(idx.to(device));
        const torch::Tensor mb_mask = mb.batch.completion_mask;
        CudaBf16Autocast autocast(learner_.bf16_autocast() && device.is_cuda());
        ASSIGN_OR_RETURN(CompletionOutputs out,
                         ForwardCompletions(models_.policy, mb.batch, temperature, true,
                                            /*with_entropy=*/true, value_head));
        torch::Tensor values = out.values;
        if (ppo && !value_head) {
          ASSIGN_OR_RETURN(
              CompletionOutputs critic_out,
              ForwardCompletions(models_.critic, mb.batch, temperature, false, false, true));
          values = critic_out.values;
        }
        if (single_pass && ppo) {
          // No reference in a single pass, so no KL in the rewards.
          mb.old_values = values.detach().to(torch::kFloat);
          const torch::Tensor mb_rewards = shard_rewards.index_select(0, idx.to(device));
          ASSIGN_OR_RETURN(
              torch::Tensor token_rewards,
              KlPenalizedRewards(mb_rewards, torch::zeros_like(mb_mask), mb_mask, 0.0));
          ASSIGN_OR_RETURN(GaeResult gae, Gae(token_rewards, mb.old_values, mb_mask,
                                              learner_.gamma(), learner_.gae_lambda()));
          mb.advantages = gae.advantages;
          mb.returns = gae.returns;
          if (whiten) {
            ASSIGN_OR_RETURN(mb.advantages, WhitenAdvantages(mb.advantages, mb_mask));
          }
        }
        if (single_pass) {
          mb.old_logprobs = out.logprobs.detach();
          ASSIGN_OR_RETURN(TruncatedIsResult is,
                           TruncatedIsWeights(mb.old_logprobs, mb.batch.sampling_logprobs, mb_mask,
                                              learner_.is_ratio_cap()));
          mb.is_weights = is.weights;
          truncated_fraction = truncated_fraction + is.truncated_fraction * (units / shard_units);
        }
        PolicyLossOptions options;
        options.clip_eps = learner_.clip_eps();
        options.aggregation = agg;
        ASSIGN_OR_RETURN(PolicyLossResult pl,
                         PpoPolicyLoss(out.logprobs, mb.old_logprobs, mb.advantages, mb_mask,
                                       options, mb.is_weights));
        torch::Tensor loss = pl.loss;
        if (learner_.entropy_coef() > 0) {
          ASSIGN_OR_RETURN(torch::Tensor ent_loss,
                           EntropyLoss(out.entropy, mb_mask, learner_.entropy_coef(), agg));
          loss = loss + ent_loss;
        }
        if (kl_in_loss) {
          ASSIGN_OR_RETURN(torch::Tensor kl_now, KlPerToken(out.logprobs, mb.ref_logprobs, mb_mask,
                                                            learner_.kl().estimator()));
          ASSIGN_OR_RETURN(torch::Tensor kl_loss, KlLoss(kl_now, mb_mask, kl_coef, agg));
          loss = loss + kl_loss;
        }
        torch::Tensor value_loss;
        double vclip = 0.0;
        if (ppo) {
          ASSIGN_OR_RETURN(ValueLossResult vl,
                           ClippedValueLoss(values, mb.old_values, mb.returns, mb_mask,
                                            learner_.value_clip_eps(), agg));
          value_loss = vl.loss;
          vclip = vl.clip_fraction.item<double>();
          loss = loss + learner_.value_coef() * value_loss;
        }
        autocast.Exit();
        (loss * weight).backward();
        const double share = units / mini_units;
        sum_policy_loss += pl.loss.item<double>() * share;
        if (value_loss.defined()) sum_value_loss += value_loss.item<double>() * share;
        sum_entropy += AggregateLoss(out.entropy.detach(), mb_mask, agg).item<double>() * share;
        sum_clip += pl.clip_fraction.item<double>() * share;
        sum_vclip += vclip * share;
        sum_approx_kl += pl.approx_kl.item<double>() * share;
      }
      fb_seconds += SecondsSince(fb_start);
      const auto opt_start = std::chrono::steady_clock::now();
      ASSIGN_OR_RETURN(OptimizerStepStats ps, policy_optimizer_->Step());
      grad_norm = ps.grad_norm;
      lr = ps.learning_rate;
      if (critic_optimizer_) {
        ASSIGN_OR_RETURN(OptimizerStepStats cs, critic_optimizer_->Step());
        value_grad_norm = cs.grad_norm;
      }
      opt_seconds += SecondsSince(opt_start);
    }
  }
  models_.policy->eval();
  if (models_.critic) models_.critic->eval();

  // Per-rank statistics, averaged over ranks. weight_total is each rank's share of the global
  // mini-batches times the passes, so sums divide by the passes and add up over ranks.
  const double passes = static_cast<double>(learner_.ppo_epochs() * learner_.mini_batches());
  // On the policy's device: over NCCL a collective takes only CUDA tensors.
  std::vector<torch::Tensor> reduce = {
      torch::tensor({sum_policy_loss / passes, sum_value_loss / passes, sum_entropy / passes,
                     sum_clip / passes, sum_vclip / passes, sum_approx_kl / passes,
                     seq_kl.item<double>(), truncated_fraction.item<double>()},
                    torch::kDouble)
          .to(models_.policy->device())};
  if (averager_ && world_size_ > 1) {
    RETURN_IF_ERROR(averager_(reduce));
    // The loss shares of the ranks add up to 1 per pass: the mean over ranks times R is the sum.
    reduce[0].narrow(0, 0, 6).mul_(world_size_);
  }
  const torch::Tensor reduced = reduce[0].cpu();
  auto r = reduced.accessor<double, 1>();
  stats.policy_loss = r[0];
  stats.value_loss = r[1];
  stats.entropy = r[2];
  stats.clip_fraction = r[3];
  stats.value_clip_fraction = r[4];
  stats.approx_kl = r[5];
  stats.kl = r[6];
  stats.is_truncated_fraction = r[7];
  stats.grad_norm = grad_norm;
  stats.value_grad_norm = value_grad_norm;
  stats.learning_rate = lr;
  stats.kl_coef = kl_coef;
  stats.forward_backward_s = fb_seconds;
  stats.optimizer_s = opt_seconds;

  if (models_.reference) {
    ASSIGN_OR_RETURN(kl_state_, UpdateKlController(kl_config_, kl_state_, stats.kl, B));
  }
  ++steps_;
  stats.step = steps_;
  return stats;
}

v1::TrainerState RlTrainer::State() const {
  v1::TrainerState state;
  state.set_format(kTrainerStateFormat);
  state.set_step(steps_);
  state.set_kl_coef(kl_state_.coef);
  state.set_reward_count(reward_moments_.count);
  state.set_reward_mean(reward_moments_.mean);
  state.set_reward_m2(reward_moments_.m2);
  return state;
}

absl::Status RlTrainer::SaveOptimizers(const std::string& dir) const {
  RETURN_IF_ERROR(policy_optimizer_->Save(dir + "/policy_optimizer.pt"));
  if (critic_optimizer_) RETURN_IF_ERROR(critic_optimizer_->Save(dir + "/critic_optimizer.pt"));
  return absl::OkStatus();
}

absl::Status RlTrainer::Restore(const v1::TrainerState& state, const std::string& optimizer_dir) {
  if (state.format() != kTrainerStateFormat) {
    return absl::FailedPreconditionError(absl::StrCat("trainer state has format ", state.format(),
                                                      "; this build reads ", kTrainerStateFormat));
  }
  RETURN_IF_ERROR(RestoreOptimizers(optimizer_dir));
  steps_ = state.step();
  kl_state_.coef = state.kl_coef();
  reward_moments_.count = state.reward_count();
  reward_moments_.mean = state.reward_mean();
  reward_moments_.m2 = state.reward_m2();
  return absl::OkStatus();
}

absl::Status RlTrainer::RestoreOptimizers(const std::string& dir) {
  RETURN_IF_ERROR(policy_optimizer_->Load(dir + "/policy_optimizer.pt"));
  if (critic_optimizer_) RETURN_IF_ERROR(critic_optimizer_->Load(dir + "/critic_optimizer.pt"));
  return absl::OkStatus();
}

}  // namespace pelican
