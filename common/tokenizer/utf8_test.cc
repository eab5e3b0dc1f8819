#include "common/tokenizer/utf8.h"

#include <gtest/gtest.h>

#include "common/tokenizer/byte_level.h"

namespace pelican::tokenizer {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(Utf8Test, ValidatesWellFormedness) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE4\xBD\xA0 \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x98"));      // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_FALSE(IsValidUtf8("a\xFF"));
}

TEST(Utf8Test, RepairsMaximalSubpartsLikeTheUnicodeStandard) {
  // The example of Unicode 15, section 3.9 ("U+FFFD Substitution of Maximal Subparts").
  const std::string r = kReplacement;
  EXPECT_EQ(ToValidUtf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + r + r + r + "b" + r + "c" + r + r + "d");
  EXPECT_EQ(ToValidUtf8("\xF0\x9F\x98"), r);          // one truncated character, one U+FFFD
  EXPECT_EQ(ToValidUtf8("\xE0\x80\xAF"), r + r + r);  // E0 cannot be followed by 80
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), r + r + r);
  EXPECT_EQ(ToValidUtf8("ok \xC3\xA9"), "ok \xC3\xA9");
}

TEST(Utf8Test, EncodesAndDecodesCodePoints) {
  for (char32_t c : {0x41u, 0xE9u, 0x4F60u, 0x1F600u, 0x10FFFFu}) {
    std::string s;
    AppendUtf8(c, &s);
    ASSERT_TRUE(IsValidUtf8(s));
    int len;
    EXPECT_EQ(DecodeUtf8(s, 0, &len), c);
    EXPECT_EQ(len, static_cast<int>(s.size()));
    EXPECT_EQ(DecodeLastUtf8("x" + s, s.size() + 1), c);
  }
}

TEST(ByteLevelTest, MapsEveryByteToOneCharacterAndBack) {
  EXPECT_EQ(ByteToChar('A'), U'A');
  EXPECT_EQ(ByteToChar(' '), U'\u0120');   // 'Ġ'
  EXPECT_EQ(ByteToChar('\n'), U'\u010A');  // 'Ċ'
  EXPECT_EQ(ByteToChar(0xAD), U'\u0143');  // soft hyphen, the last unprintable
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
    EXPECT_EQ(CharToByte(ByteToChar(static_cast<unsigned char>(b))), b);
  }
  const std::string spelled = BytesToByteLevel(all);
  EXPECT_TRUE(IsValidUtf8(spelled));
  std::string back;
  ASSERT_TRUE(ByteLevelToBytes(spelled, &back));
  EXPECT_EQ(back, all);
  EXPECT_EQ(BytesToByteLevel(" the\n"), "\xC4\xA0the\xC4\x8A");
  // Characters outside the alphabet leave the output untouched.
  std::string out = "x";
  EXPECT_FALSE(ByteLevelToBytes("ab\xE4\xBD\xA0", &out));
  EXPECT_EQ(out, "x");
  EXPECT_EQ(CharToByte(U'\u4F60'), -1);
}

}  // namespace
}  // namespace pelican::tokenizer
