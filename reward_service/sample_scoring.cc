#include "reward_service/sample_scoring.h"

#include "common/status_macros.h"

namespace pelican::reward {
namespace {

absl::Span<const int32_t> Ids(const google::protobuf::RepeatedField<int32_t>& ids) {
  return absl::MakeConstSpan(ids.data(), static_cast<size_t>(ids.size()));
}

}  // namespace

absl::StatusOr<ScoreInput> MakeScoreInput(const v1::Sample& sample, const TextDecoder& decode) {
  ScoreInput in;
  in.prompt_ids = Ids(sample.prompt_ids());
  in.completion_ids = Ids(sample.completion_ids());
  in.prompt_text = sample.prompt_text();
  in.metadata = &sample.metadata();
  in.stopped = sample.stopped();
  if (!sample.completion_text().empty() || sample.completion_ids().empty()) {
    in.completion_text = sample.completion_text();
  } else if (decode) {
    absl::StatusOr<std::string> text = decode(in.completion_ids);
    if (!text.ok()) return Annotate(text.status(), "decoding completion_ids");
    in.completion_text = std::move(text).value();
  }
  return in;
}

v1::SampleResult ToSampleResult(const std::string& id, const CompositeResult& result) {
  v1::SampleResult out;
  out.set_id(id);
  out.set_code(static_cast<int32_t>(result.status.code()));
  if (!result.status.ok()) {
    out.set_message(std::string(result.status.message()));
    return out;
  }
  out.set_reward(result.total);
  out.set_uncertainty(result.uncertainty);
  for (const ComponentValue& c : result.components) {
    v1::RewardComponent* rc = out.add_components();
    rc->set_name(c.name);
    rc->set_value(c.value);
    rc->set_weight(c.weight);
  }
  return out;
}

std::vector<v1::SampleResult> ScoreSamples(CompositeScorer& scorer,
                                           absl::Span<const v1::Sample* const> samples,
                                           const TextDecoder& decode) {
  std::vector<v1::SampleResult> out(samples.size());
  std::vector<ScoreInput> inputs;
  std::vector<size_t> positions;  // inputs[k] is samples[positions[k]]
  inputs.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    absl::StatusOr<ScoreInput> in = MakeScoreInput(*samples[i], decode);
    if (!in.ok()) {
      CompositeResult failed;
      failed.status = in.status();
      out[i] = ToSampleResult(samples[i]->id(), failed);
      continue;
    }
    inputs.push_back(std::move(in).value());
    positions.push_back(i);
  }
  if (inputs.empty()) return out;
  const std::vector<CompositeResult> results = scorer.Score(inputs);
  for (size_t k = 0; k < results.size(); ++k) {
    out[positions[k]] = ToSampleResult(samples[positions[k]]->id(), results[k]);
  }
  return out;
}

}  // namespace pelican::reward
