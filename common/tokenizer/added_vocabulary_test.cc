#include "common/tokenizer/added_vocabulary.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace pelican::tokenizer {
namespace {

using Segments = std::vector<std::pair<std::string, int32_t>>;

Segments Split(const AddedTokenMatcher& m, absl::string_view text) {
  Segments out;
  m.Split(text, [&](absl::string_view s, int32_t id) { out.emplace_back(std::string(s), id); });
  return out;
}

AddedTokenMatcher::Entry Token(const std::string& pattern, int32_t id, bool single_word = false,
                               bool lstrip = false, bool rstrip = false) {
  return {pattern, id, single_word, lstrip, rstrip};
}

TEST(AddedVocabularyTest, CutsTokensOutOfText) {
  AddedTokenMatcher m({Token("[CLS]", 2), Token("[SEP]", 3), Token("name", 1)});
  EXPECT_EQ(
      Split(m, "[CLS] My name is Anthony [SEP]"),
      (Segments{{"[CLS]", 2}, {" My ", -1}, {"name", 1}, {" is Anthony ", -1}, {"[SEP]", 3}}));
  EXPECT_TRUE(Split(m, "").empty());
  EXPECT_EQ(Split(AddedTokenMatcher({}), "plain"), (Segments{{"plain", -1}}));
}

TEST(AddedVocabularyTest, PrefersTheLongestMatchAtTheLeftmostPosition) {
  AddedTokenMatcher m({Token("<a>", 1), Token("<a><b>", 2), Token("a><b", 3)});
  EXPECT_EQ(Split(m, "x<a><b>y<a>"), (Segments{{"x", -1}, {"<a><b>", 2}, {"y", -1}, {"<a>", 1}}));
}

TEST(AddedVocabularyTest, StripsWhitespaceOnRequest) {
  AddedTokenMatcher m({Token("my", 0, false, true, true), Token("name", 1)});
  EXPECT_EQ(Split(m, "Hi  my  name"), (Segments{{"Hi", -1}, {"  my  ", 0}, {"name", 1}}));
  // Unicode whitespace counts; a previous token's stripped space is not taken twice.
  AddedTokenMatcher t({Token("<mask>", 0, true, true, true)});
  EXPECT_EQ(Split(t, "Hi <mask> there\t<mask>\t<mask>\xE2\x80\x80"),
            (Segments{{"Hi", -1},
                      {" <mask> ", 0},
                      {"there", -1},
                      {"\t<mask>\t", 0},
                      {"<mask>\xE2\x80\x80", 0}}));
}

TEST(AddedVocabularyTest, SingleWordTokensMustNotTouchWordCharacters) {
  AddedTokenMatcher m({Token("<mask>", 0, true)});
  EXPECT_EQ(Split(m, "<mask> My name <mask> A<mask> <mask>ony <mask>"),
            (Segments{{"<mask>", 0},
                      {" My name ", -1},
                      {"<mask>", 0},
                      {" A<mask> <mask>ony ", -1},
                      {"<mask>", 0}}));
  // Punctuation is not a word character; a combining mark is.
  EXPECT_EQ(
      Split(m, "<mask>, <mask>- \xE2\x97\x8C\xCC\xB0<mask>"),
      (Segments{{"<mask>", 0}, {", ", -1}, {"<mask>", 0}, {"- \xE2\x97\x8C\xCC\xB0<mask>", -1}}));
}

TEST(AddedVocabularyTest, ClassifiesCharactersLikeRustRegex) {
  EXPECT_TRUE(IsRustWordChar(U'a'));
  EXPECT_TRUE(IsRustWordChar(U'_'));
  EXPECT_TRUE(IsRustWordChar(U'\u0301'));  // combining mark
  EXPECT_TRUE(IsRustWordChar(U'\u0663'));  // Arabic-Indic digit three
  EXPECT_TRUE(IsRustWordChar(U'\u200D'));  // ZWJ (Join_Control)
  EXPECT_FALSE(IsRustWordChar(U'-'));
  EXPECT_FALSE(IsRustWordChar(U'\u00B2'));  // superscript two is No, not Nd
  EXPECT_TRUE(IsRustSpace(U'\u0085'));
  EXPECT_TRUE(IsRustSpace(U'\u3000'));
  EXPECT_FALSE(IsRustSpace(U'\u180E'));
  EXPECT_FALSE(IsRustSpace(U'\u200B'));
}

}  // namespace
}  // namespace pelican::tokenizer
