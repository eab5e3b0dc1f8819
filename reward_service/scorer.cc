#include "reward_service/scorer.h"

#include "absl/strings/str_cat.h"

namespace pelican::reward {

absl::StatusOr<const std::string*> CompletionText(const ScoreInput& in) {
  if (!in.completion_text.has_value()) {
    return absl::FailedPreconditionError(
        "the sample has no completion_text and no tokenizer decoded its completion_ids");
  }
  return &*in.completion_text;
}

absl::StatusOr<const std::string*> MetadataValue(const ScoreInput& in, const std::string& key) {
  if (in.metadata != nullptr) {
    auto it = in.metadata->find(key);
    if (it != in.metadata->end()) return &it->second;
  }
  return absl::InvalidArgumentError(absl::StrCat("the sample has no metadata[\"", key, "\"]"));
}

}  // namespace pelican::reward
