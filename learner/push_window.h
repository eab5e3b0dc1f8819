// One actor's record of the PushRollouts batch_seq values the learner has processed, so a retried
// push is recognised and not counted twice, in bounded memory.
//
//   PushRollouts(actor, seq) ──► PushWindow::Contains? duplicate : Insert(seq), process
#ifndef PELICAN_LEARNER_PUSH_WINDOW_H_
#define PELICAN_LEARNER_PUSH_WINDOW_H_

#include <cstddef>
#include <cstdint>
#include <set>

#include "absl/status/statusor.h"
#include "pelican/v1/learner_state.pb.h"

namespace pelican {

// The set of seen sequence numbers (seqs start at 1), kept as
//   top:     the highest seq seen (0 before the first), and
//   missing: the seqs below top not seen yet (gaps),
// so seen = [1, top] \ missing. Actors number pushes 1, 2, 3, ... and a gap appears only while a
// push is being retried (a later one overtook it) or when an actor gave up on a push for good.
// Memory is O(gaps), not O(pushes): a permanent gap costs one entry forever, not one per later
// push.
//
// The bound: `missing` holds at most max_missing seqs. When more gaps appear (many given-up
// pushes, or one seq jumping far ahead) the lowest gaps are forgotten, i.e. counted as seen: a push
// that later arrives with a forgotten seq is answered as a duplicate. That is safe (nothing is
// counted twice; its trajectories are not counted at all, and their leases expire and are handed
// out again) and only hits seqs more than max_missing gaps old, which no retrying actor still
// sends.
//
// Thread safety: none; the owner (PromptLedger) serialises calls.
class PushWindow {
 public:
  static constexpr size_t kDefaultMaxMissing = 1024;

  // REQUIRES: max_missing >= 1.
  explicit PushWindow(size_t max_missing = kDefaultMaxMissing);

  // Rebuilds a window from its checkpoint form. INVALID_ARGUMENT when a missing seq is 0, not below
  // top or repeated, or there are more than max_missing of them.
  static absl::StatusOr<PushWindow> FromRecord(const v1::PushWindowRecord& record,
                                               size_t max_missing = kDefaultMaxMissing);
  // The checkpoint form (actor_id left empty for the caller to fill in).
  v1::PushWindowRecord ToRecord() const;

  // True when `seq` was inserted before, or is a gap the bound forgot.
  bool Contains(uint64_t seq) const;
  // Records `seq`. REQUIRES: seq >= 1 and !Contains(seq).
  void Insert(uint64_t seq);

  uint64_t top() const { return top_; }
  const std::set<uint64_t>& missing() const { return missing_; }
  // Gaps (never-seen seqs) the bound made the window forget so far.
  uint64_t forgotten() const { return forgotten_; }

 private:
  // Constant after construction.
  size_t max_missing_;

  uint64_t top_ = 0;
  std::set<uint64_t> missing_;
  uint64_t forgotten_ = 0;
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_PUSH_WINDOW_H_
