#include "common/weight_codec.h"

#include <gtest/gtest.h>

namespace pelican {
namespace {

TensorMap Sample() {
  torch::manual_seed(3);
  TensorMap m;
  m["model.embed_tokens.weight"] = torch::randn({50, 16});
  m["model.norm.weight"] = torch::randn({16}).to(torch::kBFloat16);
  m["lm_head.weight"] = torch::randn({50, 16}).to(torch::kFloat16);
  m["scalar"] = torch::randn({});
  return m;
}

absl::StatusOr<std::optional<TensorMap>> FeedAll(WeightAssembler& a, const EncodedWeights& w) {
  absl::StatusOr<std::optional<TensorMap>> last;
  for (uint32_t i = 0; i < w.num_chunks(); ++i) {
    last = a.Add(w.Chunk(i));
    if (!last.ok()) return last;
    if (i + 1 < w.num_chunks() && last->has_value()) return absl::InternalError("early result");
  }
  return last;
}

TEST(WeightCodecTest, RoundTripsAcrossManySmallChunks) {
  const TensorMap in = Sample();
  auto w = EncodeWeights(7, in, /*bucket_bytes=*/100);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_GT(w->num_chunks(), 20u);
  WeightAssembler a;
  auto out = FeedAll(a, *w);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ(a.version(), 7u);
  ASSERT_EQ((*out)->size(), in.size());
  for (const auto& [name, t] : in) {
    const torch::Tensor& got = (*out)->at(name);
    EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(got, t)) << name;
  }
}

TEST(WeightCodecTest, OneChunkWhenTheBucketIsLarge) {
  auto w = EncodeWeights(1, Sample(), 1 << 20);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->num_chunks(), 1u);
  EXPECT_TRUE(w->Chunk(0).last());
  WeightAssembler a;
  auto out = a.Add(w->Chunk(0));
  ASSERT_TRUE(out.ok() && out->has_value());
}

TEST(WeightCodecTest, CorruptionGapsAndReorderingAreDataLoss) {
  auto w = EncodeWeights(3, Sample(), 256);
  ASSERT_TRUE(w.ok());
  ASSERT_GE(w->num_chunks(), 4u);
  {  // a flipped byte
    WeightAssembler a;
    absl::StatusOr<std::optional<TensorMap>> r;
    for (uint32_t i = 0; i < w->num_chunks(); ++i) {
      v1::WeightChunk c = w->Chunk(i);
      if (i == 2) (*c.mutable_data())[5] ^= 0x40;
      r = a.Add(c);
      ASSERT_TRUE(r.ok() || i + 1 == w->num_chunks());
    }
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(std::string(r.status().message()).find("checksum"), std::string::npos);
  }
  {  // a missing chunk
    WeightAssembler a;
    ASSERT_TRUE(a.Add(w->Chunk(0)).ok());
    auto r = a.Add(w->Chunk(2));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(std::string(r.status().message()).find("expected chunk 1"), std::string::npos);
  }
  {  // a chunk without its header first
    WeightAssembler a;
    EXPECT_EQ(a.Add(w->Chunk(1)).status().code(), absl::StatusCode::kDataLoss);
  }
  {  // a lying tensor table
    WeightAssembler a;
    v1::WeightChunk c = w->Chunk(0);
    c.mutable_tensors(1)->set_nbytes(c.tensors(1).nbytes() + 4);
    EXPECT_EQ(a.Add(c).status().code(), absl::StatusCode::kDataLoss);
  }
  {  // a shape that does not match its bytes (and would be huge)
    WeightAssembler a;
    auto w1 = EncodeWeights(4, Sample(), 1 << 20);
    ASSERT_TRUE(w1.ok());
    v1::WeightChunk c = w1->Chunk(0);
    c.mutable_tensors(0)->set_shape(0, int64_t{1} << 40);
    auto r = a.Add(c);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(std::string(r.status().message()).find("shape"), std::string::npos) << r.status();
  }
  {  // after an error, a fresh version assembles fine
    WeightAssembler a;
    EXPECT_FALSE(a.Add(w->Chunk(1)).ok());
    auto r = FeedAll(a, *w);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->has_value());
  }
}

TEST(WeightCodecTest, RefusesWhatCannotBePublished) {
  EXPECT_FALSE(EncodeWeights(1, {}, 100).ok());
  TensorMap ints;
  ints["ids"] = torch::arange(5);
  auto r = EncodeWeights(1, ints, 100);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("ids"), std::string::npos);
}

}  // namespace
}  // namespace pelican
