// Test helpers for the prompt ledger: a prompt source whose every prompt is unique ("p<k>"), and
// a trajectory builder that answers a lease correctly unless told otherwise.
#ifndef PELICAN_LEARNER_LEDGER_TEST_UTIL_H_
#define PELICAN_LEARNER_LEDGER_TEST_UTIL_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "learner/prompt_source.h"
#include "pelican/v1/learner.pb.h"
#include "pelican/v1/rollout.pb.h"

namespace pelican {
namespace testing_util {

// Prompt k is "p<k>" with token ids {k, k+1} and reference "r<k>". `fail_at` makes Next() fail
// at that k (without advancing), to test source errors.
class CountingSource : public PromptSource {
 public:
  explicit CountingSource(uint64_t fail_at = UINT64_MAX) : fail_at_(fail_at) {}

  absl::StatusOr<Prompt> Next() override {
    if (next_ == fail_at_) return absl::DataLossError(absl::StrCat("prompt ", next_, " is bad"));
    Prompt prompt;
    prompt.text = absl::StrCat("p", next_);
    prompt.token_ids = {static_cast<int32_t>(next_), static_cast<int32_t>(next_ + 1)};
    prompt.metadata[kReferenceKey] = absl::StrCat("r", next_);
    ++next_;
    return prompt;
  }
  v1::PromptCursor Cursor() const override {
    v1::PromptCursor cursor;
    cursor.set_position(next_);
    cursor.set_fingerprint("counting");
    return cursor;
  }
  absl::Status Restore(const v1::PromptCursor& cursor) override {
    if (cursor.fingerprint() != "counting") return absl::FailedPreconditionError("other source");
    next_ = cursor.position();
    return absl::OkStatus();
  }

 private:
  const uint64_t fail_at_;
  uint64_t next_ = 0;
};

// A well-formed sample `index` answering `lease`, sampled by `version`.
inline v1::Trajectory Sample(const v1::LeasedPrompt& lease, uint32_t index, uint64_t version,
                             const std::string& actor_id = "") {
  v1::Trajectory t;
  t.set_trajectory_id(absl::StrCat(lease.lease_id(), "/", index));
  t.set_lease_id(lease.lease_id());
  t.set_actor_id(actor_id);
  t.set_policy_version(version);
  *t.mutable_prompt_ids() = lease.prompt_ids();
  t.add_completion_ids(7);
  t.add_completion_ids(8);
  t.add_logprobs(-0.5f);
  t.add_logprobs(-1.5f);
  t.set_sample_index(index);
  t.set_reward(1.0);
  return t;
}

}  // namespace testing_util
}  // namespace pelican

#endif  // PELICAN_LEARNER_LEDGER_TEST_UTIL_H_
