// Where the learner's prompts come from: an endless, deterministic sequence whose position (the
// cursor) is part of every checkpoint.
//
//   PromptSource::Next ──► PromptLedger::Lease ──► actors
#ifndef PELICAN_LEARNER_PROMPT_SOURCE_H_
#define PELICAN_LEARNER_PROMPT_SOURCE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pelican/v1/learner_state.pb.h"

namespace pelican {

// One training prompt.
struct Prompt {
  std::string text;
  // The prompt's token ids, as the policy sees them.
  std::vector<int32_t> token_ids;
  // Passed on to the reward service with every sample, e.g. {"reference": "42"}.
  std::map<std::string, std::string> metadata;

  friend bool operator==(const Prompt& a, const Prompt& b) {
    return a.text == b.text && a.token_ids == b.token_ids && a.metadata == b.metadata;
  }
};

// Key under which a prompt's reference answer travels in Prompt::metadata.
inline constexpr char kReferenceKey[] = "reference";

// An endless sequence of prompts (epoch after epoch) whose position can be saved and restored:
// after Restore(c), Next() returns what it returned after the Cursor() call that produced c.
//
// Not thread-safe: the owner (PromptLedger) serialises calls.
class PromptSource {
 public:
  virtual ~PromptSource() = default;

  // The next prompt; advances the cursor. On error the cursor does not move (so the error repeats
  // until someone fixes the data).
  virtual absl::StatusOr<Prompt> Next() = 0;

  // The position of the next prompt Next() would return.
  virtual v1::PromptCursor Cursor() const = 0;

  // Moves to `cursor`. FAILED_PRECONDITION when the cursor was saved from a source with other data
  // or another seed; INVALID_ARGUMENT when it points outside the data. On error nothing changes.
  virtual absl::Status Restore(const v1::PromptCursor& cursor) = 0;
};

// Conversions between Prompt and its checkpoint form.
v1::PromptRecord ToRecord(const Prompt& prompt);
Prompt FromRecord(const v1::PromptRecord& record);

}  // namespace pelican

#endif  // PELICAN_LEARNER_PROMPT_SOURCE_H_
