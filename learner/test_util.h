// Helpers shared by the learner's tests: seeded random batches, masks with the awkward rows the
// algorithms must survive, and element-wise comparison with the failing index in the message.
#ifndef PELICAN_LEARNER_TEST_UTIL_H_
#define PELICAN_LEARNER_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace pelican {
namespace learner_testing {

inline torch::TensorOptions F64() { return torch::TensorOptions().dtype(torch::kDouble); }

// [B, T] float64 mask of right-padded rows with the given lengths (each in [0, T]).
inline torch::Tensor PrefixMask(const std::vector<int64_t>& lengths, int64_t T) {
  torch::Tensor mask = torch::zeros({static_cast<int64_t>(lengths.size()), T}, F64());
  for (size_t b = 0; b < lengths.size(); ++b) {
    mask[static_cast<int64_t>(b)].narrow(0, 0, lengths[b]).fill_(1.0);
  }
  return mask;
}

// [B, T] float64 mask of right-padded rows with random lengths, from torch's global generator
// (seed it first). For B >= 3: row 0 is full, row 1 is fully masked, row 2 ends mid-sequence (EOS).
inline torch::Tensor RandomPrefixMask(int64_t B, int64_t T) {
  std::vector<int64_t> lengths(B);
  for (int64_t b = 0; b < B; ++b) lengths[b] = torch::randint(0, T + 1, {1}).item<int64_t>();
  if (B >= 3) {
    lengths[0] = T;
    lengths[1] = 0;
    lengths[2] = T / 2;
  }
  return PrefixMask(lengths, T);
}

// [B, T] float64 mask where every position is real with probability p: rows with holes.
inline torch::Tensor RandomHoleMask(int64_t B, int64_t T, double p = 0.7) {
  return (torch::rand({B, T}, F64()) < p).to(torch::kDouble);
}

// Puts NaN at every masked position of x (a copy): what a function ignores there cannot matter.
inline torch::Tensor NanPadding(const torch::Tensor& x, const torch::Tensor& mask) {
  return x.masked_fill(mask.eq(0), std::nan(""));
}

// Checks equal shapes, that `actual` is finite, and |actual - expected| <= tol element-wise,
// naming the first bad index.
inline void ExpectClose(const torch::Tensor& actual, const torch::Tensor& expected, double tol,
                        const std::string& what = "") {
  ASSERT_TRUE(actual.defined()) << what;
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  torch::Tensor a = actual.detach().to(torch::kDouble).flatten().contiguous();
  torch::Tensor e = expected.detach().to(torch::kDouble).flatten().contiguous();
  const double* pa = a.data_ptr<double>();
  const double* pe = e.data_ptr<double>();
  for (int64_t i = 0; i < a.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(pa[i])) << what << " flat index " << i << " is " << pa[i];
    ASSERT_NEAR(pa[i], pe[i], tol) << what << " flat index " << i;
  }
}

inline double Item(const torch::Tensor& x) { return x.item<double>(); }

}  // namespace learner_testing
}  // namespace pelican

#endif  // PELICAN_LEARNER_TEST_UTIL_H_
