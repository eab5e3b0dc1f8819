// The acceptance test: our Tokenizer gives the same ids (and decodes to the same text) as Hugging
// Face tokenizers on the real Qwen3 and Llama 3 vocabularies, over thousands of seeded varied
// strings. The reference runs in Python (testdata/hf_encode.py); without it the test fails.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/tokenizer/normalizer.h"
#include "common/tokenizer/testing/hf_reference.h"
#include "common/tokenizer/testing/random_text.h"
#include "common/tokenizer/tokenizer.h"

namespace pelican {
namespace {

using tokenizer::testing::Escaped;
using tokenizer::testing::HfInput;
using tokenizer::testing::HfRun;

constexpr int kRandomStrings = 2500;
constexpr int kRandomIdLists = 300;

std::string MakeWorkDir() {
  std::string templ = ::testing::TempDir() + "/tokenizer_hf_XXXXXX";
  PELICAN_CHECK(mkdtemp(templ.data()) != nullptr) << "mkdtemp failed";
  return templ;
}

std::string Ids(const std::vector<int32_t>& ids) { return absl::StrJoin(ids, " "); }

// Strings chosen by hand for the corners: empty, whitespace only, special tokens at the edges and
// back to back, contractions in every case, long digit runs, decomposed accents.
std::vector<std::string> EdgeStrings(const std::vector<std::string>& specials) {
  std::vector<std::string> out = {
      "",
      " ",
      "  ",
      "\n",
      "\r\n",
      "\t\t",
      " \n ",
      "a",
      "Hello world",
      " Hello",
      "Hello ",
      "Hello  world   ",
      "it's IT'S It'S 's'S'\xC5\xBF",
      "don't we'll they've I'M",
      "12345678901234567890",
      "3.14 1,000,000",
      "e\xCC\x81",
      "cafe\xCC\x81 cafe\xCC\x81",
      "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8",
      "x\xCC\x81\xCC\xA7",
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
      "   \n\n   \n",
      "a\r\nb\rc\nd",
      "\xC2\x85\xE1\xA0\x8E\xE2\x80\x8B",
      "<|",
      "|>",
      "<>",
      "<<|>>",
      std::string("a\0b \x01\x1F\x7F\0", 8),  // control characters and NULs
  };
  for (const std::string& s : specials) {
    out.push_back(s);
    out.push_back(s + s);
    out.push_back(" " + s + " ");
    out.push_back("x" + s + "y");
    out.push_back(s + "\n" + s);
    out.push_back(s.substr(0, s.size() - 1));
  }
  return out;
}

class HfEquivalenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HfEquivalenceTest, SameIdsAndTextAsHuggingFace) {
  const absl::Status available = tokenizer::testing::CheckReferenceAvailable();
  ASSERT_TRUE(available.ok()) << available.message();
  const std::string path = tokenizer::testing::VocabPath(GetParam());
  auto tok = Tokenizer::FromFile(path);
  ASSERT_TRUE(tok.ok()) << tok.status();

  std::vector<std::string> specials = {"<|endoftext|>",
                                       "<|im_start|>",
                                       "<|im_end|>",
                                       "<think>",
                                       "</think>",
                                       "<|begin_of_text|>",
                                       "<|end_of_text|>",
                                       "<|eot_id|>",
                                       "<|start_header_id|>",
                                       "<|reserved_special_token_5|>"};
  std::vector<std::string> texts = EdgeStrings(specials);
  tokenizer::testing::RandomTextGenerator gen(GetParam() == "qwen3" ? 1 : 2, specials);
  for (int i = 0; i < kRandomStrings; ++i) texts.push_back(gen.Next());

  std::vector<HfInput> inputs;
  for (const std::string& t : texts) inputs.push_back({t, {}});
  // Random id lists: byte tokens cut UTF-8 characters apart; added tokens test skipping.
  std::mt19937_64 rng(7);
  std::vector<std::vector<int32_t>> id_lists;
  for (int i = 0; i < kRandomIdLists; ++i) {
    std::vector<int32_t> ids(1 + rng() % 20);
    for (int32_t& id : ids) id = static_cast<int32_t>(rng() % (*tok)->vocab_size());
    id_lists.push_back(ids);
    inputs.push_back({std::nullopt, ids});
  }

  const std::string work_dir = MakeWorkDir();
  auto hf = tokenizer::testing::RunHfReference(path, inputs, work_dir);
  ASSERT_TRUE(hf.ok()) << hf.status();
  EXPECT_EQ((*tok)->vocab_size(), hf->vocab_size);

  auto nfc = tokenizer::Normalizer::Create({tokenizer::NormalizationForm::kNFC});
  ASSERT_TRUE(nfc.ok());
  int id_mismatches = 0, text_mismatches = 0, round_trips = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& text = texts[i];
    const tokenizer::testing::HfOutput& want = hf->outputs[i];
    const std::vector<int32_t> ids = (*tok)->Encode(text);
    const std::vector<int32_t> ids_special = (*tok)->EncodeWithSpecial(text);
    if (ids != want.ids || ids_special != want.ids_special) {
      if (++id_mismatches <= 10) {
        ADD_FAILURE() << GetParam() << " string " << i << " \"" << Escaped(text)
                      << "\"\n  ours: " << Ids(ids) << "\n  HF:   " << Ids(want.ids)
                      << "\n  with special ours: " << Ids(ids_special)
                      << "\n  with special HF:   " << Ids(want.ids_special);
      }
      continue;
    }
    auto decoded = (*tok)->Decode(ids);
    auto decoded_skip = (*tok)->Decode(ids, /*skip_special_tokens=*/true);
    ASSERT_TRUE(decoded.ok() && decoded_skip.ok()) << decoded.status() << decoded_skip.status();
    if (*decoded != want.decoded || *decoded_skip != want.decoded_skip) {
      if (++text_mismatches <= 10) {
        ADD_FAILURE() << GetParam() << " decode of string " << i << " \"" << Escaped(text)
                      << "\"\n  ours: \"" << Escaped(*decoded) << "\"\n  HF:   \""
                      << Escaped(want.decoded) << "\"";
      }
    }
    // Decoding gives the text back, up to the vocabulary's normalizer (Qwen: NFC).
    std::string normalized;
    const bool has_nfc = GetParam() == "qwen3";
    if (!has_nfc || !(*nfc)->Normalize(text, &normalized)) {
      EXPECT_EQ(*decoded, text) << "round trip of string " << i << " \"" << Escaped(text) << "\"";
      ++round_trips;
    }
  }
  for (size_t k = 0; k < id_lists.size(); ++k) {
    const tokenizer::testing::HfOutput& want = hf->outputs[texts.size() + k];
    auto decoded = (*tok)->Decode(id_lists[k]);
    auto decoded_skip = (*tok)->Decode(id_lists[k], /*skip_special_tokens=*/true);
    ASSERT_TRUE(decoded.ok() && decoded_skip.ok());
    EXPECT_EQ(*decoded, want.decoded) << "ids " << Ids(id_lists[k]);
    EXPECT_EQ(*decoded_skip, want.decoded_skip) << "ids " << Ids(id_lists[k]);
  }
  EXPECT_EQ(id_mismatches, 0) << "of " << texts.size() << " strings";
  EXPECT_EQ(text_mismatches, 0);
  // Most generated strings are already normalized, so the round trip covers them.
  EXPECT_GT(round_trips, static_cast<int>(texts.size()) / 2);
  std::cout << GetParam() << ": " << texts.size() << " strings (" << round_trips
            << " round trips checked), " << id_lists.size() << " id lists; ids, decode and "
            << "skip-special decode identical to HF\n";
}

INSTANTIATE_TEST_SUITE_P(RealVocabularies, HfEquivalenceTest, ::testing::Values("qwen3", "llama3"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pelican
