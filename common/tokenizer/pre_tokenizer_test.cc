#include "common/tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pelican::tokenizer {
namespace {

std::vector<std::string> RunSteps(const std::vector<PreTokenizerStep>& steps,
                                  absl::string_view text) {
  auto p = PreTokenizer::Create(steps);
  EXPECT_TRUE(p.ok()) << p.status();
  std::vector<std::string> pieces;
  if (p.ok()) (*p)->Run(text, [&](absl::string_view piece) { pieces.emplace_back(piece); });
  return pieces;
}

std::vector<std::string> SplitDash(SplitBehavior behavior, bool invert = false) {
  return RunSteps({SplitStep{"-", true, behavior, invert}, ByteLevelStep{false, false}},
                  "the-final--countdown");
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizerTest, SplitBehaviorsMatchHfDocumentation) {
  EXPECT_EQ(SplitDash(SplitBehavior::kRemoved), (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(SplitDash(SplitBehavior::kIsolated),
            (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(SplitDash(SplitBehavior::kMergedWithPrevious),
            (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(SplitDash(SplitBehavior::kMergedWithNext),
            (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(SplitDash(SplitBehavior::kContiguous),
            (Pieces{"the", "-", "final", "--", "countdown"}));
}

TEST(PreTokenizerTest, InvertKeepsTheMatchesAsPieces) {
  EXPECT_EQ(SplitDash(SplitBehavior::kRemoved, /*invert=*/true), (Pieces{"-", "-", "-"}));
  EXPECT_EQ(RunSteps({SplitStep{"[a-z]+", true, SplitBehavior::kMergedWithPrevious, true},
                      ByteLevelStep{false, false}},
                     "ab, cd ef"),
            (Pieces{"ab, ", "cd ", "ef"}));
}

TEST(PreTokenizerTest, ByteLevelSplitsWithTheGpt2Pattern) {
  EXPECT_EQ(
      RunSteps({ByteLevelStep{false, true}}, "Hello my friend, how's it   going?\n"),
      (Pieces{"Hello", " my", " friend", ",", " how", "'s", " it", "  ", " going", "?", "\n"}));
}

TEST(PreTokenizerTest, PrefixSpaceIsAddedToEverySplitThatLacksOne) {
  EXPECT_EQ(RunSteps({ByteLevelStep{true, true}}, "Hello world"), (Pieces{" Hello", " world"}));
  EXPECT_EQ(RunSteps({ByteLevelStep{true, true}}, " Hello"), (Pieces{" Hello"}));
  // After a Split, ByteLevel sees each piece on its own.
  EXPECT_EQ(RunSteps({SplitStep{"\\d", true, SplitBehavior::kIsolated, false},
                      ByteLevelStep{true, false}},
                     "ab1cd 2"),
            (Pieces{" ab", " 1", " cd ", " 2"}));
}

TEST(PreTokenizerTest, EmptyTextHasNoPieces) {
  EXPECT_TRUE(RunSteps({ByteLevelStep{true, true}}, "").empty());
}

TEST(PreTokenizerTest, RefusesWhatIsNotByteLevel) {
  EXPECT_EQ(PreTokenizer::Create({}).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(
      PreTokenizer::Create({SplitStep{"a", true, SplitBehavior::kIsolated, false}}).status().code(),
      absl::StatusCode::kUnimplemented);
  EXPECT_EQ(
      PreTokenizer::Create({ByteLevelStep{}, SplitStep{"a", true, SplitBehavior::kIsolated, false}})
          .status()
          .code(),
      absl::StatusCode::kUnimplemented);
  EXPECT_EQ(
      PreTokenizer::Create({SplitStep{"(", true, SplitBehavior::kIsolated, false}, ByteLevelStep{}})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pelican::tokenizer
