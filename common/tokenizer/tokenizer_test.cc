#include "common/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "common/hash.h"
#include "common/status_macros.h"
#include "common/tokenizer/byte_level_bpe_trainer.h"
#include "common/tokenizer/testing/random_text.h"

namespace pelican {
namespace {

using Json = nlohmann::json;

const std::vector<std::string> kSpecials = {"<|endoftext|>", "<|im_start|>"};

// A small trained tokenizer.json, parsed so tests can edit it.
Json SmallJson() {
  tokenizer::testing::RandomTextGenerator gen(21, kSpecials);
  auto json = TrainByteLevelBpe(gen.Corpus(30000), 600, kSpecials);
  PELICAN_CHECK_OK(json.status());
  return Json::parse(*json);
}

absl::StatusCode LoadCode(const Json& j) { return Tokenizer::FromJson(j.dump()).status().code(); }

TEST(TokenizerTest, RefusesWhatItDoesNotImplement) {
  Json j = SmallJson();
  ASSERT_EQ(LoadCode(j), absl::StatusCode::kOk);
  Json e = j;
  e["model"]["type"] = "WordPiece";
  EXPECT_EQ(LoadCode(e), absl::StatusCode::kUnimplemented);
  e = j;
  e["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_EQ(LoadCode(e), absl::StatusCode::kUnimplemented);
  e = j;
  e["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}};
  EXPECT_EQ(LoadCode(e), absl::StatusCode::kUnimplemented);
  e = j;
  e["pre_tokenizer"] = nullptr;
  EXPECT_EQ(LoadCode(e), absl::StatusCode::kUnimplemented);
  e = j;
  e["decoder"] = {{"type", "WordPiece"}};
  EXPECT_EQ(LoadCode(e), absl::StatusCode::kUnimplemented);
  e = j;
  e["post_processor"] = {{"type", "RobertaProcessing"}};
  EXPECT_EQ(LoadCode(e), absl::StatusCode::kUnimplemented);
  e = j;
  e["model"]["dropout"] = 0.1;
  EXPECT_EQ(LoadCode(e), absl::StatusCode::kUnimplemented);
  e = j;
  e["model"]["byte_fallback"] = true;
  EXPECT_EQ(LoadCode(e), absl::StatusCode::kUnimplemented);
  const auto status = Tokenizer::FromJson(e.dump()).status();
  EXPECT_NE(status.message().find("model.byte_fallback"), absl::string_view::npos) << status;
}

TEST(TokenizerTest, ReportsMalformedFiles) {
  EXPECT_EQ(Tokenizer::FromJson("{not json").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Tokenizer::FromJson("[]").status().code(), absl::StatusCode::kInvalidArgument);
  Json j = SmallJson();
  j["model"]["merges"].push_back({"\xC4\xA0", "nowhere"});
  EXPECT_EQ(LoadCode(j), absl::StatusCode::kInvalidArgument);
  j = SmallJson();
  j["model"]["vocab"] = 3;
  EXPECT_EQ(LoadCode(j), absl::StatusCode::kInvalidArgument);
  auto missing = Tokenizer::FromFile("/nonexistent/tokenizer.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(TokenizerTest, AcceptsBothMergeSpellings) {
  Json j = SmallJson();
  Json as_strings = j;
  for (auto& m : as_strings["model"]["merges"]) {
    m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  }
  auto a = Tokenizer::FromJson(j.dump());
  auto b = Tokenizer::FromJson(as_strings.dump());
  ASSERT_TRUE(a.ok() && b.ok()) << b.status();
  const std::string text = "the quick brown fox, it's 12345 caf\xC3\xA9";
  EXPECT_EQ((*a)->Encode(text), (*b)->Encode(text));
}

TEST(TokenizerTest, FingerprintIsTheStartOfTheFileHash) {
  const std::string json = SmallJson().dump();
  auto t = Tokenizer::FromJson(json);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->fingerprint(), Sha256Hex(json).substr(0, 16));
  EXPECT_EQ((*t)->fingerprint().size(), 16u);
}

TEST(TokenizerTest, LooksUpTokensBothWays) {
  auto t = Tokenizer::FromJson(SmallJson().dump());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->vocab_size(), 600);
  EXPECT_EQ((*t)->TokenToId("<|endoftext|>"), 598);
  EXPECT_EQ((*t)->IdToToken(599), "<|im_start|>");
  EXPECT_EQ((*t)->IdToToken(static_cast<int32_t>(' ')), "\xC4\xA0");
  EXPECT_EQ((*t)->TokenToId("no such token"), std::nullopt);
  EXPECT_EQ((*t)->IdToToken(600), std::nullopt);
  EXPECT_EQ((*t)->IdToToken(-1), std::nullopt);
  EXPECT_TRUE((*t)->IsSpecial(598));
  EXPECT_FALSE((*t)->IsSpecial(5));
}

TEST(TokenizerTest, DecodeRefusesIdsOutsideTheVocabulary) {
  auto t = Tokenizer::FromJson(SmallJson().dump());
  ASSERT_TRUE(t.ok());
  auto bad = (*t)->Decode({5, 600});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("ids[1] = 600"), absl::string_view::npos);
  EXPECT_EQ((*t)->Decode({-3}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*t)->Decode({}).value(), "");
}

TEST(TokenizerTest, RoundTripsAndSkipsSpecialTokens) {
  auto t = Tokenizer::FromJson(SmallJson().dump());
  ASSERT_TRUE(t.ok());
  const std::string text =
      "<|im_start|>user\nHello, \xE4\xBD\xA0\xE5\xA5\xBD "
      "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD<|endoftext|>";
  const std::vector<int32_t> ids = (*t)->Encode(text);
  EXPECT_EQ(ids.front(), 599);
  EXPECT_EQ(ids.back(), 598);
  EXPECT_EQ((*t)->Decode(ids).value(), text);
  EXPECT_EQ((*t)->Decode(ids, /*skip_special_tokens=*/true).value(),
            "user\nHello, \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD");
  // Without a post-processor template, both encodings agree.
  EXPECT_EQ((*t)->EncodeWithSpecial(text), ids);
}

TEST(TokenizerTest, DecodingHalfACharacterGivesTheReplacementCharacter) {
  auto t = Tokenizer::FromJson(SmallJson().dump());
  ASSERT_TRUE(t.ok());
  // Byte tokens 0xE4 0xBD are the first two bytes of a three-byte character.
  EXPECT_EQ((*t)->Decode({'a', 0xE4, 0xBD, 'b'}).value(),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(TokenizerTest, InvalidUtf8IsRepairedNotFatal) {
  auto t = Tokenizer::FromJson(SmallJson().dump());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->Encode("ab\xFF\xC0 cd\xE4\xBD"),
            (*t)->Encode("ab\xEF\xBF\xBD\xEF\xBF\xBD cd\xEF\xBF\xBD"));
  EXPECT_EQ((*t)->Decode((*t)->Encode("x\x80y")).value(), "x\xEF\xBF\xBDy");
  EXPECT_TRUE((*t)->Encode("").empty());
}

TEST(TokenizerTest, AppliesTheTemplateOnlyWhenAsked) {
  Json j = SmallJson();
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<|im_start|>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
        {{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}}}},
      {"pair", Json::array()},
      {"special_tokens",
       {{"<|im_start|>", {{"id", "<|im_start|>"}, {"ids", {599}}, {"tokens", {"<|im_start|>"}}}},
        {"<|endoftext|>",
         {{"id", "<|endoftext|>"}, {"ids", {598}}, {"tokens", {"<|endoftext|>"}}}}}}};
  auto t = Tokenizer::FromJson(j.dump());
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<int32_t> want = (*t)->Encode("hi");
  want.insert(want.begin(), 599);
  want.push_back(598);
  EXPECT_EQ((*t)->EncodeWithSpecial("hi"), want);
  EXPECT_EQ((*t)->EncodeWithSpecial(""), (std::vector<int32_t>{599, 598}));
  j["post_processor"]["single"][0]["SpecialToken"]["id"] = "<|missing|>";
  EXPECT_EQ(LoadCode(j), absl::StatusCode::kInvalidArgument);
}

TEST(TokenizerTest, ConcurrentEncodesAgreeWithASingleThread) {
  auto t = Tokenizer::FromJson(SmallJson().dump());
  ASSERT_TRUE(t.ok());
  tokenizer::testing::RandomTextGenerator gen(22, kSpecials);
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back(gen.Next());
  std::vector<std::vector<int32_t>> want;
  for (const auto& s : texts) want.push_back((*t)->Encode(s));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t j = (i * 7 + k * 13 + round) % texts.size();
          if ((*t)->Encode(texts[j]) != want[j]) ++mismatches[k];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(mismatches[k], 0) << "thread " << k;
}

}  // namespace
}  // namespace pelican
