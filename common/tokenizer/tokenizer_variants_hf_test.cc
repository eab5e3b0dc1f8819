// HF equivalence for the parts of tokenizer.json that Qwen3 and Llama 3 do not exercise: every
// Split behaviour and invert, String patterns, the Oniguruma escapes we rewrite for PCRE2,
// ByteLevel with a prefix space and its own regex, added tokens with
// lstrip/rstrip/single_word/normalized under NFKC, TemplateProcessing inside a Sequence,
// ignore_merges. Each variant edits a small trained tokenizer.json and compares with HF tokenizers
// on seeded varied text.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/tokenizer/byte_level_bpe_trainer.h"
#include "common/tokenizer/testing/hf_reference.h"
#include "common/tokenizer/testing/random_text.h"
#include "common/tokenizer/tokenizer.h"

namespace pelican {
namespace {

using Json = nlohmann::json;

constexpr int kTextsPerVariant = 400;

Json ByteLevelNoRegex() {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", true},
          {"use_regex", false}};
}

Json SplitThenByteLevel(Json pattern, const std::string& behavior, bool invert) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}},
            ByteLevelNoRegex()}}};
}

Json Added(int id, const std::string& content, bool special, bool normalized, bool lstrip,
           bool rstrip, bool single_word) {
  return {{"id", id},          {"content", content}, {"single_word", single_word},
          {"lstrip", lstrip},  {"rstrip", rstrip},   {"normalized", normalized},
          {"special", special}};
}

struct Variant {
  std::string name;
  std::function<void(Json*)> edit;
};

std::vector<Variant> Variants() {
  std::vector<Variant> v;
  v.push_back({"byte_level_prefix_space_gpt2_regex", [](Json* j) {
                 (*j)["pre_tokenizer"] = {{"type", "ByteLevel"},
                                          {"add_prefix_space", true},
                                          {"trim_offsets", true},
                                          {"use_regex", true}};
               }});
  for (const std::string behavior :
       {"Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"}) {
    for (bool invert : {false, true}) {
      v.push_back({"split_" + behavior + (invert ? "_inverted" : ""), [=](Json* j) {
                     (*j)["pre_tokenizer"] =
                         SplitThenByteLevel({{"Regex", "\\s+|\\p{P}"}}, behavior, invert);
                   }});
    }
  }
  v.push_back({"split_string_pattern", [](Json* j) {
                 (*j)["pre_tokenizer"] =
                     SplitThenByteLevel({{"String", ". "}}, "MergedWithPrevious", false);
               }});
  v.push_back({"regex_word_hex_anchor_escapes", [](Json* j) {
                 (*j)["pre_tokenizer"] = SplitThenByteLevel(
                     {{"Regex", "\\w+|\\W|\\h{2}|^.|.$|\\d+|[\\s\\w]{3}|\\S\\s"}}, "Isolated",
                     false);
               }});
  v.push_back(
      {"regex_empty_matches", [](Json* j) {
         (*j)["pre_tokenizer"] = SplitThenByteLevel({{"Regex", "\\b|x*"}}, "Isolated", false);
       }});
  v.push_back({"added_token_flags_under_nfkc", [](Json* j) {
                 (*j)["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFKC"}}}}};
                 const int n = (*j)["model"]["vocab"].size();
                 auto& added = (*j)["added_tokens"];
                 added.push_back(Added(n + 3, "<mask>", true, false, true, true, false));
                 added.push_back(Added(n + 4, "word", false, true, false, false, true));
                 added.push_back(Added(n + 5, "\xE2\x85\xAB", false, true, false, false, false));
                 added.push_back(Added(n + 6, " lead", false, false, false, true, false));
                 added.push_back(Added(n + 7, "tail ", true, true, true, false, true));
                 added.push_back(Added(n + 8, "caf\xC3\xA9", false, true, false, false, false));
               }});
  v.push_back({"nfd_normalizer", [](Json* j) { (*j)["normalizer"] = {{"type", "NFD"}}; }});
  v.push_back(
      {"template_processing_in_sequence", [](Json* j) {
         const int bos = (*j)["added_tokens"][0]["id"];
         const int eos = (*j)["added_tokens"][2]["id"];
         Json special_tokens = {
             {"<|endoftext|>",
              {{"id", "<|endoftext|>"}, {"ids", {bos}}, {"tokens", {"<|endoftext|>"}}}},
             {"<|im_end|>", {{"id", "<|im_end|>"}, {"ids", {eos}}, {"tokens", {"<|im_end|>"}}}}};
         Json single = {{{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}},
                        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                        {{"SpecialToken", {{"id", "<|im_end|>"}, {"type_id", 0}}}}};
         Json pair = single;
         pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
         (*j)["post_processor"] = {{"type", "Sequence"},
                                   {"processors",
                                    {{{"type", "ByteLevel"},
                                      {"add_prefix_space", true},
                                      {"trim_offsets", false},
                                      {"use_regex", true}},
                                     {{"type", "TemplateProcessing"},
                                      {"single", single},
                                      {"pair", pair},
                                      {"special_tokens", special_tokens}}}}};
       }});
  v.push_back({"ignore_merges", [](Json* j) { (*j)["model"]["ignore_merges"] = true; }});
  return v;
}

class VariantHfTest : public ::testing::TestWithParam<Variant> {};

TEST_P(VariantHfTest, SameAsHuggingFace) {
  const absl::Status available = tokenizer::testing::CheckReferenceAvailable();
  ASSERT_TRUE(available.ok()) << available.message();
  const std::vector<std::string> specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  tokenizer::testing::RandomTextGenerator corpus_gen(5, specials);
  auto trained = TrainByteLevelBpe(corpus_gen.Corpus(100000), 1500, specials);
  ASSERT_TRUE(trained.ok()) << trained.status();
  Json j = Json::parse(*trained);
  GetParam().edit(&j);
  const std::string json = j.dump();
  auto tok = Tokenizer::FromJson(json);
  ASSERT_TRUE(tok.ok()) << tok.status();

  std::string dir = ::testing::TempDir() + "/tokenizer_variant_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/tokenizer.json";
  ASSERT_TRUE(WriteFileAtomic(path, json).ok());
  // The text mentions the added tokens of every variant, whole, broken and spaced.
  tokenizer::testing::RandomTextGenerator gen(
      6, {"<|endoftext|>", "<|im_start|>", "<mask>", " <mask> ", "word", "swordfish",
          "\xE2\x85\xAB", "XII", " lead", "tail ", "cafe\xCC\x81", "caf\xC3\xA9", ". "});
  std::vector<std::string> texts;
  for (int i = 0; i < kTextsPerVariant; ++i) texts.push_back(gen.Next());
  auto mismatches = tokenizer::testing::CompareWithHf(**tok, path, texts, dir);
  ASSERT_TRUE(mismatches.ok()) << mismatches.status();
  EXPECT_TRUE(mismatches->empty())
      << mismatches->size() << " of " << texts.size() << " differ; first: " << mismatches->front();
}

INSTANTIATE_TEST_SUITE_P(Configs, VariantHfTest, ::testing::ValuesIn(Variants()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace pelican
