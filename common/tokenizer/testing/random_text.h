// Seeded generator of varied text for tokenizer tests and benchmarks: many scripts (accented
// Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai, CJK, Hangul), emoji with ZWJ sequences,
// skin tones and flags, combining marks and decomposed forms, runs of spaces/tabs/newlines/CRLF,
// numbers, code, contractions, and the caller's special tokens (whole and broken) inside text.
// The same seed gives the same strings on every run.
//
// Thread safety: a generator is not thread-safe; use one per thread.
#ifndef PELICAN_COMMON_TOKENIZER_TESTING_RANDOM_TEXT_H_
#define PELICAN_COMMON_TOKENIZER_TESTING_RANDOM_TEXT_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace pelican::tokenizer::testing {

class RandomTextGenerator {
 public:
  RandomTextGenerator(uint64_t seed, std::vector<std::string> special_tokens);

  // One string of 1..`max_fragments` fragments (well-formed UTF-8, possibly empty).
  std::string Next(int max_fragments = 12);

  // Concatenated strings, one per line, until at least `bytes` bytes: a benchmark corpus.
  std::vector<std::string> Corpus(size_t bytes);

 private:
  size_t Index(size_t n) { return static_cast<size_t>(rng_() % n); }
  bool Chance(int percent) { return static_cast<int>(rng_() % 100) < percent; }
  std::string Fragment();
  std::string RandomCodePoints();
  std::string Number();
  std::string Whitespace();
  std::string WithCombiningMarks();
  std::string SpecialToken();

  std::mt19937_64 rng_;
  std::vector<std::string> special_tokens_;
};

}  // namespace pelican::tokenizer::testing

#endif  // PELICAN_COMMON_TOKENIZER_TESTING_RANDOM_TEXT_H_
