#include "reward_service/answer_extraction.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace pelican::reward {
namespace {

using ::testing::Optional;

std::optional<std::string> None() { return std::nullopt; }

TEST(ExtractHashesTest, TakesTheRestOfTheLineAfterTheLastHashes) {
  EXPECT_EQ(ExtractHashesAnswer("She has 3 + 4 = 7 apples.\n#### 7"), "7");
  EXPECT_EQ(ExtractHashesAnswer("#### 5\nwait, no\n####  1,234 \nthanks"), "1,234");
  EXPECT_EQ(ExtractHashesAnswer("##### 9"), "9");
  EXPECT_EQ(ExtractHashesAnswer("no marker 42"), None());
  EXPECT_EQ(ExtractHashesAnswer("answer: ####   \n"), None());
}

TEST(ExtractBoxedTest, HandlesNestedBracesAndTakesTheLastBalancedOne) {
  EXPECT_EQ(ExtractBoxedAnswer("so \\boxed{42}."), "42");
  EXPECT_EQ(ExtractBoxedAnswer("\\boxed{\\frac{3}{4}}"), "\\frac{3}{4}");
  EXPECT_EQ(ExtractBoxedAnswer("\\boxed{1} then \\boxed{ {a}{b} }"), "{a}{b}");
  // A truncated last box does not hide an earlier complete one.
  EXPECT_EQ(ExtractBoxedAnswer("\\boxed{7} and finally \\boxed{8"), "7");
  EXPECT_EQ(ExtractBoxedAnswer("\\boxed{8"), None());
  EXPECT_EQ(ExtractBoxedAnswer("\\boxed{}"), None());
  EXPECT_EQ(ExtractBoxedAnswer("boxed{3}"), None());
  EXPECT_EQ(ExtractBoxedAnswer("\\boxed 3"), None());
}

TEST(ExtractLastNumberTest, FindsTheLastNumberInItsFullForm) {
  EXPECT_EQ(ExtractLastNumber("3 + 4 = 7"), "7");
  EXPECT_EQ(ExtractLastNumber("It costs $1,234.50."), "1,234.50");
  EXPECT_EQ(ExtractLastNumber("x = -3"), "-3");
  EXPECT_EQ(ExtractLastNumber("5-3"), "3");  // a minus between numbers is not a sign
  EXPECT_EQ(ExtractLastNumber("temperature \xE2\x88\x92"
                              "12 degrees"),
            "\xE2\x88\x92"
            "12");
  EXPECT_EQ(ExtractLastNumber("about 3/4 of them"), "3/4");
  EXPECT_EQ(ExtractLastNumber("ratio .5 now"), ".5");
  EXPECT_EQ(ExtractLastNumber("list 1,2,3"), "3");
  EXPECT_EQ(ExtractLastNumber("1,2345"), "2345");
  EXPECT_EQ(ExtractLastNumber("The answer is 12."), "12");
  EXPECT_EQ(ExtractLastNumber("+8 points"), "+8");
  EXPECT_EQ(ExtractLastNumber("no digits here"), None());
  EXPECT_EQ(ExtractLastNumber(""), None());
}

TEST(ExtractAnswerTest, AutoPrefersHashesThenBoxedThenLastNumber) {
  const auto mode = v1::ANSWER_EXTRACTION_AUTO;
  EXPECT_EQ(ExtractAnswer("\\boxed{5} ... #### 6 and 7 more", mode), "6 and 7 more");
  EXPECT_EQ(ExtractAnswer("\\boxed{5} and 9", mode), "5");
  EXPECT_EQ(ExtractAnswer("so 4 then 9", mode), "9");
  EXPECT_EQ(ExtractAnswer("#### \n8", mode), "8");  // empty hashes fall through
  EXPECT_EQ(ExtractAnswer("nothing", mode), None());
  // UNSPECIFIED is the documented default, AUTO.
  EXPECT_EQ(ExtractAnswer("\\boxed{5} and 9", v1::ANSWER_EXTRACTION_UNSPECIFIED), "5");
}

TEST(ExtractAnswerTest, ExplicitModesUseOnlyTheirForm) {
  const std::string text = "\\boxed{5} then 9";
  EXPECT_EQ(ExtractAnswer(text, v1::ANSWER_EXTRACTION_HASHES), None());
  EXPECT_EQ(ExtractAnswer(text, v1::ANSWER_EXTRACTION_BOXED), "5");
  EXPECT_EQ(ExtractAnswer(text, v1::ANSWER_EXTRACTION_LAST_NUMBER), "9");
  EXPECT_EQ(ExtractAnswer("  Paris \n", v1::ANSWER_EXTRACTION_WHOLE), "Paris");
  EXPECT_EQ(ExtractAnswer(" \n ", v1::ANSWER_EXTRACTION_WHOLE), None());
}

TEST(ParseNumberTest, NormalisesTheUsualSpellings) {
  EXPECT_THAT(ParseNumber("42"), Optional(42.0));
  EXPECT_THAT(ParseNumber(" 42. "), Optional(42.0));
  EXPECT_THAT(ParseNumber("1,234"), Optional(1234.0));
  EXPECT_THAT(ParseNumber("1,234,567.25"), Optional(1234567.25));
  EXPECT_THAT(ParseNumber("-3.5"), Optional(-3.5));
  EXPECT_THAT(ParseNumber("+7"), Optional(7.0));
  EXPECT_THAT(ParseNumber("\xE2\x88\x92"
                          "2"),
              Optional(-2.0));
  EXPECT_THAT(ParseNumber(".5"), Optional(0.5));
  EXPECT_THAT(ParseNumber("3/4"), Optional(0.75));
  EXPECT_THAT(ParseNumber("-3/4"), Optional(-0.75));
  EXPECT_THAT(ParseNumber("$5"), Optional(5.0));
  EXPECT_THAT(ParseNumber("\\$1,000"), Optional(1000.0));
  EXPECT_THAT(ParseNumber("-$5"), Optional(-5.0));
  EXPECT_THAT(ParseNumber("$-5"), Optional(-5.0));
  EXPECT_THAT(ParseNumber("50%"), Optional(50.0));
  EXPECT_THAT(ParseNumber("50\\%"), Optional(50.0));
  EXPECT_THAT(ParseNumber("\\frac{3}{4}"), Optional(0.75));
  EXPECT_THAT(ParseNumber("-\\dfrac{1}{8}"), Optional(-0.125));
  EXPECT_THAT(ParseNumber("\\tfrac{-1}{2}"), Optional(-0.5));
  EXPECT_THAT(ParseNumber("0"), Optional(0.0));
}

TEST(ParseNumberTest, RejectsWhatIsNotANumber) {
  for (const char* s : {"",
                        " ",
                        ".",
                        "-",
                        "abc",
                        "4x",
                        "1,23",
                        "1,2345",
                        "12,34,567",
                        "3/0",
                        "\\frac{1}{0}",
                        "\\frac{1}",
                        "\\frac{1}{2}x",
                        "1/2/3",
                        "1.2.3",
                        "--4",
                        "4-",
                        "1e5",
                        "inf",
                        "nan",
                        "0x10",
                        "3 4",
                        "$",
                        "%"}) {
    EXPECT_EQ(ParseNumber(s), std::nullopt) << "'" << s << "'";
  }
}

TEST(AnswersMatchTest, ComparesNumbersNumericallyWithTolerance) {
  EXPECT_TRUE(AnswersMatch("1,234", "1234", 0));
  EXPECT_TRUE(AnswersMatch("0.5", "1/2", 0));
  EXPECT_TRUE(AnswersMatch("\\frac{1}{2}", "0.50", 0));
  EXPECT_TRUE(AnswersMatch("$18", "18", 0));
  EXPECT_FALSE(AnswersMatch("18", "-18", 0));
  EXPECT_FALSE(AnswersMatch("0.333", "1/3", 0));
  EXPECT_TRUE(AnswersMatch("0.333", "1/3", 1e-3));
  EXPECT_FALSE(AnswersMatch("0.33", "1/3", 1e-3));
  EXPECT_TRUE(AnswersMatch("3.01", "3", 0.01 + 1e-12));
}

TEST(AnswersMatchTest, ComparesTextExactlyAfterTrimming) {
  EXPECT_TRUE(AnswersMatch("  Paris. ", "Paris", 0));
  EXPECT_FALSE(AnswersMatch("paris", "Paris", 0));
  EXPECT_TRUE(AnswersMatch("x+1", "x+1", 0));
  EXPECT_FALSE(AnswersMatch("x + 1", "x+1", 0));
  EXPECT_FALSE(AnswersMatch("5", "five", 0));
  EXPECT_FALSE(AnswersMatch("", "5", 0));
}

// Random text over the characters the scanners care about: no crash, and what is extracted is a
// piece of the text that parses back as a number (unless it divides by zero).
TEST(AnswerExtractionFuzzTest, ExtractionsAreSubstringsAndNumbersParse) {
  const std::vector<std::string> pieces = {
      "0",   "7",  "12", ",",    ".", "-", "+",        "/",      "$", "%",
      " ",   "\n", "#",  "####", "{", "}", "\\boxed{", "\\frac", "x", "\xE2\x88\x92",
      "\xC3"};
  std::mt19937 rng(3);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string text;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    if (auto number = ExtractLastNumber(text)) {
      EXPECT_NE(text.find(*number), std::string::npos) << text;
      if (number->find('/') == std::string::npos) {
        EXPECT_TRUE(ParseNumber(*number).has_value())
            << "'" << *number << "' from '" << text << "'";
      }
    }
    for (auto mode : {v1::ANSWER_EXTRACTION_HASHES, v1::ANSWER_EXTRACTION_BOXED,
                      v1::ANSWER_EXTRACTION_AUTO, v1::ANSWER_EXTRACTION_WHOLE}) {
      if (auto answer = ExtractAnswer(text, mode)) {
        EXPECT_FALSE(answer->empty());
        EXPECT_NE(text.find(*answer), std::string::npos) << text;
      }
    }
    ParseNumber(text);  // must not crash on anything
  }
}

}  // namespace
}  // namespace pelican::reward
