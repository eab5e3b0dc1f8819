#include "learner/push_window.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace pelican {

PushWindow::PushWindow(size_t max_missing) : max_missing_(max_missing) {
  PELICAN_CHECK(max_missing >= 1) << "a push window must be able to hold one gap";
}

absl::StatusOr<PushWindow> PushWindow::FromRecord(const v1::PushWindowRecord& record,
                                                  size_t max_missing) {
  PushWindow window(max_missing);
  window.top_ = record.top();
  window.forgotten_ = record.forgotten();
  for (uint64_t seq : record.missing()) {
    if (seq == 0 || seq >= record.top() || !window.missing_.insert(seq).second) {
      return absl::InvalidArgumentError(absl::StrCat("push window of actor \"", record.actor_id(),
                                                     "\": missing seq ", seq,
                                                     " is out of place below top ", record.top()));
    }
  }
  if (window.missing_.size() > max_missing) {
    return absl::InvalidArgumentError(absl::StrCat("push window of actor \"", record.actor_id(),
                                                   "\" holds ", window.missing_.size(),
                                                   " gaps; the bound is ", max_missing));
  }
  return window;
}

v1::PushWindowRecord PushWindow::ToRecord() const {
  v1::PushWindowRecord record;
  record.set_top(top_);
  record.mutable_missing()->Add(missing_.begin(), missing_.end());
  record.set_forgotten(forgotten_);
  return record;
}

bool PushWindow::Contains(uint64_t seq) const {
  return seq >= 1 && seq <= top_ && missing_.count(seq) == 0;
}

void PushWindow::Insert(uint64_t seq) {
  PELICAN_CHECK(seq >= 1 && !Contains(seq)) << "seq " << seq << " top " << top_;
  if (seq < top_) {
    missing_.erase(seq);  // a gap filled
    return;
  }
  // The seqs strictly between the old top and `seq` become gaps; of a jump wider than the bound
  // only the highest max_missing_ are worth recording (the rest would be forgotten at once).
  const uint64_t gaps = seq - top_ - 1;
  const uint64_t recorded = std::min<uint64_t>(gaps, max_missing_);
  forgotten_ += gaps - recorded;
  for (uint64_t s = seq - recorded; s < seq; ++s) missing_.insert(s);
  top_ = seq;
  while (missing_.size() > max_missing_) {
    missing_.erase(missing_.begin());
    ++forgotten_;
  }
}

}  // namespace pelican
