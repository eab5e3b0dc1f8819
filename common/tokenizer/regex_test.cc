#include "common/tokenizer/regex.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace pelican::tokenizer {
namespace {

using Matches = std::vector<std::pair<size_t, size_t>>;

Matches FindAll(const Regex& re, absl::string_view text) {
  Matches out;
  re.ForEachMatch(text, [&](size_t s, size_t e) { out.emplace_back(s, e); });
  return out;
}

std::unique_ptr<Regex> MustCompile(absl::string_view pattern) {
  auto re = Regex::Compile(pattern);
  EXPECT_TRUE(re.ok()) << re.status();
  return re.ok() ? *std::move(re) : nullptr;
}

TEST(RegexTest, RewritesEscapesWhoseMeaningDiffers) {
  EXPECT_EQ(OnigurumaToPcre2("\\s+(?!\\S)").value(), "\\p{White_Space}+(?!\\P{White_Space})");
  EXPECT_EQ(OnigurumaToPcre2("[^\\s\\p{L}]").value(), "[^\\p{White_Space}\\p{L}]");
  EXPECT_EQ(OnigurumaToPcre2("\\h").value(), "[0-9a-fA-F]");
  EXPECT_EQ(OnigurumaToPcre2("[\\h_]").value(), "[0-9a-fA-F_]");
  EXPECT_EQ(OnigurumaToPcre2("\\\\s").value(), "\\\\s");      // an escaped backslash, then 's'
  EXPECT_EQ(OnigurumaToPcre2("[]s]\\d").value(), "[]s]\\d");  // ']' first is a member
  EXPECT_EQ(OnigurumaToPcre2("[[:alpha:]\\s]").value(), "[[:alpha:]\\p{White_Space}]");
  EXPECT_EQ(OnigurumaToPcre2("[\\W]").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(OnigurumaToPcre2("[a[b]]").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(OnigurumaToPcre2("[a-z&&[^aeiou]]").status().code(), absl::StatusCode::kUnimplemented);
}

TEST(RegexTest, SpaceIsUnicodeWhiteSpace) {
  auto re = MustCompile("\\s");
  // U+0085 (NEL) is White_Space; U+180E (Mongolian vowel separator) and U+200B are not.
  EXPECT_EQ(FindAll(*re,
                    "a\xC2\x85"
                    "b"),
            (Matches{{1, 3}}));
  EXPECT_TRUE(FindAll(*re,
                      "a\xE1\xA0\x8E\xE2\x80\x8B"
                      "b")
                  .empty());
}

TEST(RegexTest, WordIsLettersMarksNumbersAndConnectors) {
  auto re = MustCompile("\\w+");
  // a + combining acute, Roman numeral eight, superscript two, underscore: one word; ZWJ is not.
  EXPECT_EQ(FindAll(*re, "a\xCC\x81\xE2\x85\xA7\xC2\xB2_\xE2\x80\x8Dx"),
            (Matches{{0, 9}, {12, 13}}));
}

TEST(RegexTest, AnchorsMatchAtLineBreaks) {
  auto re = MustCompile("^a|a$");
  EXPECT_EQ(FindAll(*re, "a\nba\nab"), (Matches{{0, 1}, {3, 4}, {5, 6}}));
}

TEST(RegexTest, EmptyMatchesFollowOnigurumasIteration) {
  auto re = MustCompile("x*");
  EXPECT_EQ(FindAll(*re, "abc"), (Matches{{0, 0}, {1, 1}, {2, 2}, {3, 3}}));
  EXPECT_EQ(FindAll(*re, "axxb"), (Matches{{0, 0}, {1, 3}, {4, 4}}));
  // The search steps over a whole character, never into one.
  EXPECT_EQ(FindAll(*re, "\xC3\xA9"), (Matches{{0, 0}, {2, 2}}));
}

TEST(RegexTest, CaseInsensitiveContractionsFoldLongS) {
  auto re = MustCompile("(?i:'s|'t)");
  EXPECT_EQ(FindAll(*re, "'S'\xC5\xBF'T'x"), (Matches{{0, 2}, {2, 5}, {5, 7}}));
}

TEST(RegexTest, LiteralPatternsMatchVerbatim) {
  auto re = Regex::Literal(".*");
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(FindAll(**re, "a.*b.c*"), (Matches{{1, 3}}));
}

TEST(RegexTest, RejectsBadPatterns) {
  EXPECT_EQ(Regex::Compile("(unclosed").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RegexTest, LongWhitespaceRunsDoNotExhaustTheMatcher) {
  auto re = MustCompile("\\s+(?!\\S)|\\s+");
  const std::string text = std::string(4 << 20, ' ') + "a";
  EXPECT_EQ(FindAll(*re, text),
            (Matches{{0, text.size() - 2}, {text.size() - 2, text.size() - 1}}));
}

}  // namespace
}  // namespace pelican::tokenizer
