#include "actor/rollout.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/model/sampling.h"
#include "common/status_macros.h"

namespace pelican {

absl::StatusOr<GenerateOptions> ActorGenerateOptions(const v1::RunConfig& config,
                                                     const GenerationConfig& generation) {
  GenerateOptions options;
  options.sampling = SamplingFromProto(config.actors().sampling(), generation.eos_token_ids);
  RETURN_IF_ERROR(ValidateSampling(options.sampling));
  options.max_kv_cache_bytes = int64_t{config.actors().max_kv_cache_mib()} << 20;
  options.pad_token_id = generation.pad_token_id.value_or(0);
  return options;
}
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

absl::StatusOr<Rollouts> GenerateAndScore(
    Transformer& model, const Tokenizer& tokenizer,
    const google::protobuf::RepeatedPtrField<v1::LeasedPrompt>& prompts,
    const GenerateOptions& options, at::Generator& generator, RewardClient& reward,
    const RolloutSource& source) {
  Rollouts out;
  std::vector<std::vector<int32_t>> prompt_ids;
  for (const v1::LeasedPrompt& p : prompts) {
    prompt_ids.emplace_back(p.prompt_ids().begin(), p.prompt_ids().end());
  }
  const auto gen_start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<Completion> completions,
                   Generate(model, prompt_ids, options, generator));
  out.generate_s = Since(gen_start);

  v1::ScoreRequest request;
  for (size_t i = 0; i < completions.size(); ++i) {
    const Completion& c = completions[i];
    const v1::LeasedPrompt& p = prompts.Get(static_cast<int>(c.prompt_index));
    v1::Sample* s = request.add_samples();
    s->set_id(absl::StrCat(i));
    *s->mutable_prompt_ids() = p.prompt_ids();
    s->mutable_completion_ids()->Add(c.token_ids.begin(), c.token_ids.end());
    s->set_prompt_text(p.prompt_text());
    absl::StatusOr<std::string> text = tokenizer.Decode(c.token_ids, true);
    if (text.ok()) s->set_completion_text(*text);
    *s->mutable_metadata() = p.metadata();
    s->set_stopped(c.finish_reason == v1::FINISH_REASON_STOP);
  }
  const auto score_start = std::chrono::steady_clock::now();
  const int64_t retries_before = reward.retries();
  absl::StatusOr<v1::ScoreResponse> scored = reward.Score(request);
  out.score_s = Since(score_start);
  out.score_retries = reward.retries() - retries_before;
  if (!scored.ok()) {
    out.score_status = scored.status();
    return out;
  }

  // Leases with any unscored sample are left out whole.
  std::vector<bool> lease_ok(prompts.size(), true);
  for (size_t i = 0; i < completions.size(); ++i) {
    const v1::SampleResult& r = scored->results(static_cast<int>(i));
    if (r.code() != 0 || !r.has_reward()) {
      lease_ok[completions[i].prompt_index] = false;
      out.sample_errors.push_back(static_cast<absl::StatusCode>(r.code()));
    }
  }
  for (size_t i = 0; i < completions.size(); ++i) {
    const Completion& c = completions[i];
    if (!lease_ok[c.prompt_index]) continue;
    const v1::LeasedPrompt& p = prompts.Get(static_cast<int>(c.prompt_index));
    const v1::SampleResult& r = scored->results(static_cast<int>(i));
    v1::Trajectory t;
    t.set_trajectory_id(absl::StrCat(source.trajectory_id_prefix, i));
    t.set_lease_id(p.lease_id());
    t.set_actor_id(source.actor_id);
    t.set_policy_version(source.policy_version);
    *t.mutable_prompt_ids() = p.prompt_ids();
    t.mutable_completion_ids()->Add(c.token_ids.begin(), c.token_ids.end());
    t.mutable_logprobs()->Add(c.logprobs.begin(), c.logprobs.end());
    t.set_finish_reason(c.finish_reason);
    t.set_reward(r.reward());
    *t.mutable_components() = r.components();
    t.set_reward_uncertainty(r.uncertainty());
    t.set_sample_index(static_cast<uint32_t>(c.sample_index));
    t.mutable_timings()->set_generate_s(out.generate_s);
    t.mutable_timings()->set_score_s(out.score_s);
    out.completion_tokens += static_cast<int64_t>(c.token_ids.size());
    out.trajectories.push_back(std::move(t));
  }
  return out;
}

}  // namespace pelican
