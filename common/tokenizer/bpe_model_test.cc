#include "common/tokenizer/bpe_model.h"

#include <gtest/gtest.h>

#include "common/tokenizer/byte_level.h"

namespace pelican::tokenizer {
namespace {

// Byte tokens get their byte as id; merged tokens follow from 256.
BpeConfig Config(const std::vector<std::pair<std::string, std::string>>& merges) {
  BpeConfig c;
  for (int b = 0; b < 256; ++b) c.vocab.emplace_back(BytesToByteLevel(std::string(1, char(b))), b);
  int32_t next = 256;
  for (const auto& [l, r] : merges) {
    bool known = false;
    for (const auto& [t, id] : c.vocab) known |= t == l + r;
    if (!known) c.vocab.emplace_back(l + r, next++);
  }
  c.merges = merges;
  return c;
}

std::vector<std::string> Tokens(const BpeModel& m, absl::string_view piece) {
  std::vector<int32_t> ids;
  m.Tokenize(piece, &ids);
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(*m.IdToToken(id));
  return out;
}

using Strings = std::vector<std::string>;

TEST(BpeModelTest, MergesLowestRankFirst) {
  // "ab" outranks "bc", so "abc" becomes ab|c even though "bc" is also a merge.
  auto m = BpeModel::Create(Config({{"a", "b"}, {"b", "c"}, {"ab", "c"}}));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(Tokens(**m, "abc"), (Strings{"abc"}));
  EXPECT_EQ(Tokens(**m, "bcab"), (Strings{"bc", "ab"}));
  auto n = BpeModel::Create(Config({{"b", "c"}, {"a", "b"}}));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(Tokens(**n, "abc"), (Strings{"a", "bc"}));
}

TEST(BpeModelTest, EqualRanksMergeLeftmostFirst) {
  auto m = BpeModel::Create(Config({{"a", "a"}}));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(Tokens(**m, "aaa"), (Strings{"aa", "a"}));
  EXPECT_EQ(Tokens(**m, "aaaaa"), (Strings{"aa", "aa", "a"}));
}

TEST(BpeModelTest, WorksOnRawBytes) {
  // " the" is spelled "Ġthe" in the vocabulary; pieces arrive as raw bytes.
  auto m = BpeModel::Create(Config({{"t", "h"}, {"th", "e"}, {"\xC4\xA0", "the"}}));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(Tokens(**m, " the"), (Strings{"\xC4\xA0the"}));
  EXPECT_EQ(Tokens(**m, "\xC3\xA9"), (Strings{"\xC3\x83", "\xC2\xA9"}));  // é: two byte tokens
  EXPECT_TRUE(Tokens(**m, "").empty());
}

TEST(BpeModelTest, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  // "abc" is in the vocabulary but the merges would never build it from a|bc.
  BpeConfig c = Config({{"b", "c"}, {"a", "b"}, {"ab", "c"}});
  EXPECT_EQ(Tokens(*BpeModel::Create(c).value(), "abc"), (Strings{"a", "bc"}));
  c.ignore_merges = true;
  EXPECT_EQ(Tokens(*BpeModel::Create(c).value(), "abc"), (Strings{"abc"}));
}

TEST(BpeModelTest, MissingBytesBecomeUnkOrVanish) {
  BpeConfig c = Config({});
  c.vocab.erase(c.vocab.begin() + 'x');
  c.vocab.emplace_back("<unk>", 300);
  EXPECT_EQ(Tokens(*BpeModel::Create(c).value(), "axxb"), (Strings{"a", "b"}));
  c.unk_token = "<unk>";
  EXPECT_EQ(Tokens(*BpeModel::Create(c).value(), "axxb"), (Strings{"a", "<unk>", "<unk>", "b"}));
  c.fuse_unk = true;
  EXPECT_EQ(Tokens(*BpeModel::Create(c).value(), "axxb"), (Strings{"a", "<unk>", "b"}));
}

TEST(BpeModelTest, RepeatedCallsGiveTheSameIds) {
  auto m = BpeModel::Create(Config({{"a", "b"}, {"ab", "c"}}));
  ASSERT_TRUE(m.ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Tokens(**m, "abcab"), (Strings{"abc", "ab"}));  // cached
}

TEST(BpeModelTest, RejectsMergesOutsideTheVocabulary) {
  BpeConfig c = Config({});
  c.merges = {{"a", "b"}};  // "ab" is not a token
  EXPECT_EQ(BpeModel::Create(c).status().code(), absl::StatusCode::kInvalidArgument);
  c = Config({});
  c.unk_token = "<nope>";
  EXPECT_EQ(BpeModel::Create(c).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pelican::tokenizer
