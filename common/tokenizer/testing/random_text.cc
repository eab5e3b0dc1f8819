#include "common/tokenizer/testing/random_text.h"

#include <utility>

#include "common/tokenizer/utf8.h"

namespace pelican::tokenizer::testing {
namespace {

// Words and snippets by kind. Written with escapes where the form matters (decomposed accents,
// ZWJ sequences) so an editor cannot silently change them.
const std::vector<std::string>& Words() {
  static const auto* const words = new std::vector<std::string>{
      // English, mixed case, long words, contractions.
      "the",
      "The",
      "THE",
      "quick",
      "brown",
      "fox",
      "jumps",
      "over",
      "lazy",
      "dog",
      "Hello",
      "world",
      "tokenizer",
      "Pneumonoultramicroscopicsilicovolcanoconiosis",
      "it's",
      "we're",
      "they've",
      "I'm",
      "you'll",
      "he'd",
      "don't",
      "IT'S",
      "We'RE",
      "O'Neil",
      "rock'n'roll",
      "'s",
      "'t",
      "'re",
      "'ve",
      "'m",
      "'ll",
      "'d",
      "\xE2\x80\x99s",
      "can\xE2\x80\x99t",
      "'\xC5\xBF",
      // Latin with accents (precomposed and decomposed), ligatures.
      "caf\xC3\xA9",
      "cafe\xCC\x81",
      "na\xC3\xAFve",
      "M\xC3\xBCller",
      "Mu\xCC\x88ller",
      "fa\xC3\xA7"
      "ade",
      "se\xC3\xB1or",
      "\xC3\x86r\xC3\xB8sk\xC3\xB8"
      "bing",
      "\xC5\x81\xC3\xB3"
      "d\xC5\xBA",
      "Dvo\xC5\x99\xC3\xA1k",
      "\xC4\xB0stanbul",
      "stra\xC3\x9F"
      "e",
      "\xEF\xAC\x81nance",
      "A\xCC\x8Angstr\xC3\xB6m",
      "Ti\xE1\xBA\xBFng Vi\xE1\xBB\x87t",
      "\xC3\x85se",
      // Cyrillic, Greek.
      "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",
      "\xD0\xBC\xD0\xB8\xD1\x80",
      "\xD1\x81\xD1\x8A\xD0\xB5\xD1\x88\xD1\x8C",
      "\xD0\x81\xD0\xBB\xD0\xBA\xD0\xB0",
      "\xCE\x9A\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xAD\xCF\x81\xCE\xB1",
      "\xCE\xBA\xCF\x8C\xCF\x83\xCE\xBC\xCE\xB5",
      "\xCE\x91\xCE\x92\xCE\x93",
      // Arabic (with and without harakat), Hebrew (with and without niqqud).
      "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7",
      "\xD8\xA8\xD8\xA7\xD9\x84\xD8\xB9\xD8\xA7\xD9\x84\xD9\x85",
      "\xD9\x85\xD9\x8E\xD8\xB1\xD9\x92\xD8\xAD\xD9\x8E\xD8\xA8\xD9\x8B\xD8\xA7",
      "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D",
      "\xD7\xA2\xD7\x95\xD7\x9C\xD7\x9D",
      "\xD7\xA9\xD7\x81\xD6\xB8\xD7\x9C\xD7\x95\xD6\xB9\xD7\x9D",
      // Devanagari, Thai.
      "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87",
      "\xE0\xA4\xA6\xE0\xA5\x81\xE0\xA4\xA8\xE0\xA4\xBF\xE0\xA4\xAF\xE0\xA4\xBE",
      "\xE0\xA4\x95\xE0\xA5\x8D\xE0\xA4\xB7\xE0\xA4\xA4\xE0\xA5\x8D\xE0\xA4\xB0\xE0\xA4\xBF\xE0\xA4"
      "\xAF",
      "\xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1\xE0\xB8\xAA\xE0\xB8\x94\xE0\xB8\xB5",
      "\xE0\xB8\x8A\xE0\xB8\xB2\xE0\xB8\xA7\xE0\xB9\x82\xE0\xB8\xA5\xE0\xB8\x81",
      // CJK, kana, full-width punctuation, Hangul (syllables and conjoining jamo).
      "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83"
      "\x88",
      "\xE6\xBC\xA2\xE5\xAD\x97",
      "\xE3\x82\xAB\xE3\x82\xBF\xE3\x82\xAB\xE3\x83\x8A",
      "\xE3\x81\xB2\xE3\x82\x89\xE3\x81\x8C\xE3\x81\xAA",
      "\xEF\xBC\x8C\xE3\x80\x82\xEF\xBC\x81\xEF\xBC\x9F\xE3\x80\x8C\xE3\x80\x8D",
      "\xEC\x95\x88\xEB\x85\x95\xED\x95\x98\xEC\x84\xB8\xEC\x9A\x94",
      "\xEC\x84\xB8\xEA\xB3\x84",
      "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8",
      // Emoji: plain, skin tones, ZWJ sequences, flags, keycaps, variation selectors.
      "\xF0\x9F\x98\x80",
      "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
      "\xF0\x9F\x91\x8B\xF0\x9F\x8F\xBF",
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F"
      "\x91\xA6",
      "\xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x8C\x88",
      "\xF0\x9F\xA7\x91\xF0\x9F\x8F\xBF\xE2\x80\x8D\xF0\x9F\x92\xBB",
      "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7",
      "\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5",
      "\xF0\x9F\x87\xBA\xF0\x9F\x87\xA6",
      "1\xEF\xB8\x8F\xE2\x83\xA3",
      "\xE2\x9D\xA4\xEF\xB8\x8F",
      "\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82",
      // Punctuation and symbols.
      "!!!",
      "...",
      "\xE2\x80\x94",
      "\xE2\x80\x93",
      "\xC2\xAB"
      "quoted"
      "\xC2\xBB",
      "\xE2\x80\x9Cquotes\xE2\x80\x9D",
      "\xE2\x82\xAC"
      "100",
      "\xC2\xA9",
      "\xE2\x88\x91x\xC2\xB2",
      "==========",
      "----",
      "***",
      "~/",
      "@user",
      "#hashtag",
      "https://example.com/path?q=1&r=2#frag",
      "someone@example.org",
      "C++",
      "a/b\\c",
      // Code.
      "def foo(x):\n    return x ** 2\n",
      "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
      "#include <vector>",
      "if x != None and y >= 3:",
      "console.log(`${a} + ${b}`);",
      "{\"key\": [1, 2.5, null, true]}",
      "<div class=\"a\">text</div>",
      "SELECT * FROM t WHERE id=42;",
      "fn main() { println!(\"hi\"); }",
      "x = [i for i in range(10) if i % 2]",
      "    indented",
      "\tTabbed\tcolumns\t",
      "// comment",
      "/* block */",
      "$ ls -la | grep '^d'",
  };
  return *words;
}

const std::vector<std::string>& Separators() {
  static const auto* const separators = new std::vector<std::string>{
      " ", " ", " ", " ", "", "\n", ", ", ". ", "  ", "\t", "\r\n", " - ", "\n\n", ": "};
  return *separators;
}

// Ranges of long-assigned code points (no code point here changed between Unicode 9 and 15).
struct Range {
  char32_t lo, hi;
};
constexpr Range kRanges[] = {
    {0x21, 0x7E},       {0xA1, 0x17F},    {0x370, 0x3CE},   {0x400, 0x45F},   {0x5D0, 0x5EA},
    {0x621, 0x64A},     {0x905, 0x939},   {0xE01, 0xE2E},   {0x3041, 0x3096}, {0x30A1, 0x30FA},
    {0x4E00, 0x9FA5},   {0xAC00, 0xD7A3}, {0x2200, 0x22FF}, {0x2500, 0x257F}, {0x1F300, 0x1F64F},
    {0x1D400, 0x1D44F}, {0xFF01, 0xFF5E}, {0x2070, 0x2079}, {0x2160, 0x216F}, {0x1100, 0x1112},
};

}  // namespace

RandomTextGenerator::RandomTextGenerator(uint64_t seed, std::vector<std::string> special_tokens)
    : rng_(seed), special_tokens_(std::move(special_tokens)) {}

std::string RandomTextGenerator::RandomCodePoints() {
  std::string out;
  const Range& r = kRanges[Index(sizeof(kRanges) / sizeof(kRanges[0]))];
  const size_t n = 1 + Index(8);
  for (size_t i = 0; i < n; ++i)
    AppendUtf8(r.lo + static_cast<char32_t>(Index(r.hi - r.lo + 1)), &out);
  return out;
}

std::string RandomTextGenerator::Number() {
  static const char* const kForms[] = {"3.14159",
                                       "1,000,000",
                                       "0x1F",
                                       "-42",
                                       "1e-9",
                                       "2024-06-30",
                                       "12:30",
                                       "\xD9\xA1\xD9\xA2\xD9\xA3",
                                       "\xEF\xBC\x91\xEF\xBC\x92",
                                       "\xE2\x85\xA0\xE2\x85\xA2",
                                       "\xC2\xBD"};
  if (Chance(30)) return kForms[Index(sizeof(kForms) / sizeof(kForms[0]))];
  std::string out;
  const size_t digits = 1 + Index(Chance(20) ? 40 : 6);
  for (size_t i = 0; i < digits; ++i) out.push_back(static_cast<char>('0' + Index(10)));
  return out;
}

std::string RandomTextGenerator::Whitespace() {
  static const char* const kUnits[] = {
      " ",        "\t",           "\n",           "\r\n",        "\r",
      "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\x83", "\xC2\x85",    "\xE2\x80\xA8",
      "\x0B",     "\x0C",         "\xE1\xA0\x8E", "\xE2\x80\x8B"};
  std::string out;
  const size_t n = 1 + Index(Chance(10) ? 40 : 5);
  const bool mixed = Chance(40);
  const char* unit = kUnits[Index(4)];
  for (size_t i = 0; i < n; ++i) {
    out += mixed ? kUnits[Index(sizeof(kUnits) / sizeof(kUnits[0]))] : unit;
  }
  return out;
}

std::string RandomTextGenerator::WithCombiningMarks() {
  static const char* const kBases[] = {"a", "e", "o", "Z", "n", "\xD0\xB8", "\xCE\xB1", " ", "1"};
  std::string out = kBases[Index(sizeof(kBases) / sizeof(kBases[0]))];
  const size_t marks = 1 + Index(5);
  for (size_t i = 0; i < marks; ++i) AppendUtf8(0x300 + static_cast<char32_t>(Index(0x70)), &out);
  return out;
}

std::string RandomTextGenerator::SpecialToken() {
  if (special_tokens_.empty()) return "<|endoftext|>";
  std::string token = special_tokens_[Index(special_tokens_.size())];
  if (Chance(20) && token.size() > 2) {
    // A broken token (first or last character gone) must come out as ordinary text.
    auto is_continuation = [&](size_t i) {
      return (static_cast<unsigned char>(token[i]) & 0xC0) == 0x80;
    };
    if (Chance(50)) {
      size_t end = 1;
      while (end < token.size() && is_continuation(end)) ++end;
      token.erase(0, end);
    } else {
      size_t start = token.size() - 1;
      while (start > 0 && is_continuation(start)) --start;
      token.erase(start);
    }
  }
  return token;
}

std::string RandomTextGenerator::Fragment() {
  const size_t kind = Index(100);
  if (kind < 45) return Words()[Index(Words().size())];
  if (kind < 55) return Number();
  if (kind < 65) return Whitespace();
  if (kind < 75) return RandomCodePoints();
  if (kind < 82) return WithCombiningMarks();
  if (kind < 92) return SpecialToken();
  // A repeated character or word.
  std::string unit =
      Chance(50) ? std::string(1, "ab =-_.!0"[Index(9)]) : Words()[Index(Words().size())];
  std::string out;
  const size_t n = 2 + Index(30);
  for (size_t i = 0; i < n; ++i) out += unit;
  return out;
}

std::string RandomTextGenerator::Next(int max_fragments) {
  std::string out;
  const size_t n = 1 + Index(static_cast<size_t>(max_fragments));
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += Separators()[Index(Separators().size())];
    out += Fragment();
  }
  return out;
}

std::vector<std::string> RandomTextGenerator::Corpus(size_t bytes) {
  std::vector<std::string> lines;
  size_t total = 0;
  while (total < bytes) {
    std::string line = Next(40);
    total += line.size();
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace pelican::tokenizer::testing
