#include "common/tokenizer/byte_level_bpe_trainer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/tokenizer/testing/hf_reference.h"
#include "common/tokenizer/testing/random_text.h"
#include "common/tokenizer/tokenizer.h"

namespace pelican {
namespace {

const std::vector<std::string> kSpecials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

std::vector<std::string> SmallCorpus() {
  return {"the cat sat on the mat", "the dog sat on the log", "the cat and the dog",
          "<|endoftext|>the end<|endoftext|>"};
}

TEST(ByteLevelBpeTrainerTest, RejectsBadArguments) {
  EXPECT_EQ(TrainByteLevelBpe(SmallCorpus(), 258, kSpecials).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainByteLevelBpe(SmallCorpus(), 300, {"<a>", "<a>"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainByteLevelBpe(SmallCorpus(), 300, {""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A special token spelled like a byte token would get the byte's id in HF.
  EXPECT_EQ(TrainByteLevelBpe(SmallCorpus(), 300, {"a"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ByteLevelBpeTrainerTest, LearnsFrequentPairsFirstAndLaysOutIds) {
  auto json = TrainByteLevelBpe(SmallCorpus(), 270, kSpecials);
  ASSERT_TRUE(json.ok()) << json.status();
  const nlohmann::json j = nlohmann::json::parse(*json);
  // "the" is the most frequent word: its first merge is one of its pairs (the space before it
  // starts a separate piece "Ġthe").
  const auto& merges = j["model"]["merges"];
  ASSERT_EQ(merges.size(), 270u - 256u - kSpecials.size());
  EXPECT_EQ(merges[0].get<std::vector<std::string>>(), (std::vector<std::string>{"h", "e"}));
  auto tok = Tokenizer::FromJson(*json);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 270);
  EXPECT_EQ((*tok)->TokenToId("<|endoftext|>"), 267);
  EXPECT_EQ((*tok)->TokenToId("<|im_end|>"), 269);
  EXPECT_TRUE((*tok)->IsSpecial(267));
  EXPECT_FALSE((*tok)->IsSpecial(266));
  EXPECT_EQ((*tok)->TokenToId("a"), static_cast<int32_t>('a'));
  EXPECT_EQ((*tok)->TokenToId("\xC4\xA0"), static_cast<int32_t>(' '));  // 'Ġ'
  // Special tokens were cut out before counting: no merge spans '<' and '|'.
  for (const auto& m : merges) EXPECT_NE(m[0].get<std::string>() + m[1].get<std::string>(), "<|");
  const std::vector<int32_t> ids = (*tok)->Encode("the cat<|im_start|>");
  EXPECT_LT(ids.size(), 5u);
  EXPECT_EQ(ids.back(), 268);
  EXPECT_EQ((*tok)->Decode(ids).value(), "the cat<|im_start|>");
}

TEST(ByteLevelBpeTrainerTest, IsDeterministic) {
  tokenizer::testing::RandomTextGenerator gen(3, kSpecials);
  const std::vector<std::string> corpus = gen.Corpus(20000);
  auto a = TrainByteLevelBpe(corpus, 600, kSpecials);
  auto b = TrainByteLevelBpe(corpus, 600, kSpecials);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(ByteLevelBpeTrainerTest, StopsWhenNoPairIsLeft) {
  auto json = TrainByteLevelBpe({"ab"}, 1000, {});
  ASSERT_TRUE(json.ok());
  auto tok = Tokenizer::FromJson(*json);
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ((*tok)->vocab_size(), 257);
  EXPECT_EQ((*tok)->Encode("ab"), std::vector<int32_t>{256});
}

// The brief's contract: HF tokenizers loads what we write and agrees with us on it.
TEST(ByteLevelBpeTrainerTest, HuggingFaceLoadsItAndGivesOurIds) {
  const absl::Status available = tokenizer::testing::CheckReferenceAvailable();
  ASSERT_TRUE(available.ok()) << available.message();
  tokenizer::testing::RandomTextGenerator gen(4, kSpecials);
  auto json = TrainByteLevelBpe(gen.Corpus(200000), 2000, kSpecials);
  ASSERT_TRUE(json.ok()) << json.status();
  auto tok = Tokenizer::FromJson(*json);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 2000);

  std::string dir = ::testing::TempDir() + "/bpe_trainer_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/tokenizer.json";
  ASSERT_TRUE(WriteFileAtomic(path, *json).ok());
  std::vector<std::string> texts;
  for (int i = 0; i < 1000; ++i) texts.push_back(gen.Next());
  auto mismatches = tokenizer::testing::CompareWithHf(**tok, path, texts, dir);
  ASSERT_TRUE(mismatches.ok()) << mismatches.status();
  EXPECT_TRUE(mismatches->empty())
      << mismatches->size() << " of " << texts.size() << " differ; first: " << mismatches->front();
}

}  // namespace
}  // namespace pelican
