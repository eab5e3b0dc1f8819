// Running mean and variance of a stream of values (Welford's update), for the composite scorer's
// per-component normalisation: normalised = (x - mean) / sqrt(variance + kEpsilon).
//
// Thread safety: none; the owner serialises access (CompositeScorer holds it under its mutex).
#ifndef PELICAN_REWARD_SERVICE_RUNNING_MOMENTS_H_
#define PELICAN_REWARD_SERVICE_RUNNING_MOMENTS_H_

#include <cmath>
#include <cstdint>

namespace pelican::reward {

class RunningMoments {
 public:
  // Keeps the normalisation finite while every value seen so far is the same.
  static constexpr double kEpsilon = 1e-8;

  void Add(double x) {
    ++count_;
    const double delta = x - mean_;
    mean_ += delta / static_cast<double>(count_);
    m2_ += delta * (x - mean_);
  }

  int64_t count() const { return count_; }
  // 0 before the first value.
  double mean() const { return mean_; }
  // Population variance (divides by count); 0 with fewer than two values.
  double variance() const { return count_ > 1 ? m2_ / static_cast<double>(count_) : 0.0; }
  double stddev() const { return std::sqrt(variance()); }

  // The factor a normalised value is scaled by: 1 / sqrt(variance + kEpsilon).
  double InverseScale() const { return 1.0 / std::sqrt(variance() + kEpsilon); }
  double Normalize(double x) const { return (x - mean_) * InverseScale(); }

 private:
  int64_t count_ = 0;
  double mean_ = 0.0;
  double m2_ = 0.0;  // sum of squared deviations from the running mean
};

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_RUNNING_MOMENTS_H_
