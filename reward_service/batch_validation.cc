#include "reward_service/batch_validation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace pelican::reward {
namespace {

std::string SampleName(const v1::Sample& sample, int index) {
  if (sample.id().empty()) return absl::StrCat("sample ", index);
  return absl::StrCat("sample ", index, " (id \"", sample.id(), "\")");
}

absl::Status CheckIds(const google::protobuf::RepeatedField<int32_t>& ids, absl::string_view field,
                      int64_t vocab_size) {
  for (int t = 0; t < ids.size(); ++t) {
    const int32_t id = ids.Get(t);
    if (id < 0 || (vocab_size > 0 && id >= vocab_size)) {
      return absl::InvalidArgumentError(
          vocab_size > 0 ? absl::StrCat(field, "[", t, "] = ", id,
                                        " is outside the vocabulary [0, ", vocab_size, ")")
                         : absl::StrCat(field, "[", t, "] = ", id, " is negative"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSample(const v1::Sample& sample, int index, const BatchLimits& limits) {
  const int64_t tokens =
      static_cast<int64_t>(sample.prompt_ids_size()) + sample.completion_ids_size();
  if (tokens > limits.max_sample_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat(SampleName(sample, index), ": prompt + completion is ", tokens,
                     " tokens, more than reward.max_sample_tokens = ", limits.max_sample_tokens));
  }
  absl::Status s = CheckIds(sample.prompt_ids(), "prompt_ids", limits.vocab_size);
  if (s.ok()) s = CheckIds(sample.completion_ids(), "completion_ids", limits.vocab_size);
  return Annotate(s, SampleName(sample, index));
}

absl::Status ValidateScoreRequest(const v1::ScoreRequest& request, const BatchLimits& limits,
                                  const ScorerSet& scorers) {
  if (request.samples().empty()) return absl::InvalidArgumentError("the request has no samples");
  RETURN_IF_ERROR(scorers.Find(request.scorer()).status());
  for (int i = 0; i < request.samples_size(); ++i) {
    RETURN_IF_ERROR(ValidateSample(request.samples(i), i, limits));
  }
  return absl::OkStatus();
}

}  // namespace pelican::reward
