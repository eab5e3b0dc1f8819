// UTF-8 helpers for the tokenizer: validation, decoding one code point, and the lossy repair that
// both ends of the pipeline use (Encode repairs ill-formed input before matching; Decode repairs
// the byte string that byte-level tokens concatenate to, exactly as Rust's
// String::from_utf8_lossy).
#ifndef PELICAN_COMMON_TOKENIZER_UTF8_H_
#define PELICAN_COMMON_TOKENIZER_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace pelican::tokenizer {

constexpr char32_t kReplacementChar = 0xFFFD;

// True when `s` is well-formed UTF-8 (no surrogates, no overlongs, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// Returns `s` with each maximal ill-formed subpart replaced by U+FFFD (Unicode's "best practice",
// as used by Rust's from_utf8_lossy and the WHATWG decoder). Well-formed input comes back
// unchanged.
std::string ToValidUtf8(absl::string_view s);

// Appends the UTF-8 encoding of `c` (REQUIRES: a Unicode scalar value).
void AppendUtf8(char32_t c, std::string* out);

// Decodes the code point starting at byte `i` of `s` and sets `*len` to its byte length.
// REQUIRES: `s` is well-formed UTF-8 and `i` is at a character boundary, i < s.size().
char32_t DecodeUtf8(absl::string_view s, size_t i, int* len);

// The code point that ends at byte `end` of `s` (REQUIRES: well-formed, 0 < end <= size, boundary).
char32_t DecodeLastUtf8(absl::string_view s, size_t end);

}  // namespace pelican::tokenizer

#endif  // PELICAN_COMMON_TOKENIZER_UTF8_H_
