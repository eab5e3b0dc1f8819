#include "reward_service/answer_extraction.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace pelican::reward {
namespace {

constexpr absl::string_view kUnicodeMinus = "\xE2\x88\x92";  // U+2212

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Whether `t[pos]` may be preceded by a sign: the sign itself must not follow a word or a number.
bool SignAllowedBefore(absl::string_view t, size_t sign_pos) {
  return sign_pos == 0 || !absl::ascii_isalnum(static_cast<unsigned char>(t[sign_pos - 1]));
}

// Length of the digits-with-thousands-groups run at t[i..], 0 when t[i] is not a digit.
// Groups must be exactly three digits: "1,234" is one run, "1,2345" stops after "1".
size_t ScanGroupedDigits(absl::string_view t, size_t i) {
  size_t j = i;
  while (j < t.size() && IsDigit(t[j])) ++j;
  const size_t lead = j - i;
  if (lead == 0 || lead > 3) return j - i;
  while (j + 3 < t.size() && t[j] == ',' && IsDigit(t[j + 1]) && IsDigit(t[j + 2]) &&
         IsDigit(t[j + 3]) && !(j + 4 < t.size() && IsDigit(t[j + 4]))) {
    j += 4;
  }
  return j - i;
}

// Parses an unsigned decimal in the ExtractLastNumber grammar without a fraction: "1,234.5",
// "12", ".5". The whole of `s` must be consumed.
std::optional<double> ParsePlain(absl::string_view s) {
  if (s.empty()) return std::nullopt;
  const size_t int_len = ScanGroupedDigits(s, 0);
  size_t j = int_len;
  if (j < s.size() && s[j] == '.') {
    ++j;
    const size_t frac_start = j;
    while (j < s.size() && IsDigit(s[j])) ++j;
    if (j == frac_start && int_len == 0) return std::nullopt;  // "." alone
  }
  if (j != s.size() || j == 0) return std::nullopt;
  double v = 0;
  if (!absl::SimpleAtod(absl::StrReplaceAll(s, {{",", ""}}), &v) || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

// Consumes "{...}" (balanced) at the front of `s` into `inner`.
bool ConsumeBraced(absl::string_view& s, absl::string_view& inner) {
  if (s.empty() || s[0] != '{') return false;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) {
      inner = s.substr(1, i - 1);
      s.remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

std::optional<double> Divide(std::optional<double> num, std::optional<double> den) {
  if (!num || !den || *den == 0) return std::nullopt;
  const double v = *num / *den;
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string> ExtractHashesAnswer(absl::string_view text) {
  const size_t pos = text.rfind("####");
  if (pos == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = text.substr(pos + 4);
  rest = rest.substr(0, rest.find('\n'));
  rest = absl::StripAsciiWhitespace(rest);
  if (rest.empty()) return std::nullopt;
  return std::string(rest);
}

std::optional<std::string> ExtractBoxedAnswer(absl::string_view text) {
  constexpr absl::string_view kBoxed = "\\boxed";
  // The last balanced one: a truncated "\boxed{12" at the end does not hide an earlier answer.
  size_t end = text.size();
  while (true) {
    const size_t pos = text.substr(0, end).rfind(kBoxed);
    if (pos == absl::string_view::npos) return std::nullopt;
    absl::string_view rest = text.substr(pos + kBoxed.size());
    absl::string_view inner;
    if (ConsumeBraced(rest, inner)) {
      inner = absl::StripAsciiWhitespace(inner);
      if (inner.empty()) return std::nullopt;
      return std::string(inner);
    }
    if (pos == 0) return std::nullopt;
    end = pos;
  }
}

std::optional<std::string> ExtractLastNumber(absl::string_view t) {
  std::optional<std::string> last;
  size_t i = 0;
  while (i < t.size()) {
    const bool starts = IsDigit(t[i]) || (t[i] == '.' && i + 1 < t.size() && IsDigit(t[i + 1]) &&
                                          (i == 0 || !IsDigit(t[i - 1])));
    if (!starts) {
      ++i;
      continue;
    }
    size_t j = i + ScanGroupedDigits(t, i);
    const bool has_int = j > i;
    if (j + 1 < t.size() && t[j] == '.' && IsDigit(t[j + 1])) {
      for (++j; j < t.size() && IsDigit(t[j]);) ++j;
    } else if (has_int && j + 1 < t.size() && t[j] == '/' && IsDigit(t[j + 1])) {
      for (++j; j < t.size() && IsDigit(t[j]);) ++j;
    }
    size_t start = i;
    if (start >= 1 && (t[start - 1] == '-' || t[start - 1] == '+') &&
        SignAllowedBefore(t, start - 1)) {
      start -= 1;
    } else if (start >= kUnicodeMinus.size() &&
               t.substr(start - kUnicodeMinus.size(), kUnicodeMinus.size()) == kUnicodeMinus &&
               SignAllowedBefore(t, start - kUnicodeMinus.size())) {
      start -= kUnicodeMinus.size();
    }
    last = std::string(t.substr(start, j - start));
    i = j;
  }
  return last;
}

std::optional<std::string> ExtractAnswer(absl::string_view text, v1::AnswerExtraction mode) {
  switch (mode) {
    case v1::ANSWER_EXTRACTION_HASHES:
      return ExtractHashesAnswer(text);
    case v1::ANSWER_EXTRACTION_BOXED:
      return ExtractBoxedAnswer(text);
    case v1::ANSWER_EXTRACTION_LAST_NUMBER:
      return ExtractLastNumber(text);
    case v1::ANSWER_EXTRACTION_WHOLE: {
      absl::string_view whole = absl::StripAsciiWhitespace(text);
      if (whole.empty()) return std::nullopt;
      return std::string(whole);
    }
    case v1::ANSWER_EXTRACTION_AUTO:
    case v1::ANSWER_EXTRACTION_UNSPECIFIED:
    default:
      if (auto a = ExtractHashesAnswer(text)) return a;
      if (auto a = ExtractBoxedAnswer(text)) return a;
      return ExtractLastNumber(text);
  }
}

std::optional<double> ParseNumber(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (absl::ConsumeSuffix(&s, ".")) s = absl::StripAsciiWhitespace(s);
  if (absl::ConsumeSuffix(&s, "\\%") || absl::ConsumeSuffix(&s, "%")) {
    s = absl::StripAsciiWhitespace(s);
  }
  // A sign and a currency sign, in either order: "-$5", "$-5".
  bool negative = false;
  bool signed_ = false;
  for (int pass = 0; pass < 2; ++pass) {
    if (!signed_) {
      if (absl::ConsumePrefix(&s, "-") || absl::ConsumePrefix(&s, kUnicodeMinus)) {
        negative = signed_ = true;
      } else if (absl::ConsumePrefix(&s, "+")) {
        signed_ = true;
      }
    }
    if (absl::ConsumePrefix(&s, "\\$") || absl::ConsumePrefix(&s, "$")) {
      s = absl::StripLeadingAsciiWhitespace(s);
    }
  }
  std::optional<double> v;
  if (absl::ConsumePrefix(&s, "\\frac") || absl::ConsumePrefix(&s, "\\dfrac") ||
      absl::ConsumePrefix(&s, "\\tfrac")) {
    absl::string_view num, den;
    if (!ConsumeBraced(s, num) || !ConsumeBraced(s, den) || !s.empty()) return std::nullopt;
    v = Divide(ParseNumber(num), ParseNumber(den));
  } else if (const size_t slash = s.find('/'); slash != absl::string_view::npos) {
    v = Divide(ParsePlain(s.substr(0, slash)), ParsePlain(s.substr(slash + 1)));
  } else {
    v = ParsePlain(s);
  }
  if (!v) return std::nullopt;
  return negative ? -*v : *v;
}

std::string NormalizeAnswerText(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (absl::ConsumeSuffix(&s, ".")) s = absl::StripTrailingAsciiWhitespace(s);
  return std::string(s);
}

bool AnswersMatch(absl::string_view answer, absl::string_view reference, double tolerance) {
  const std::optional<double> a = ParseNumber(answer);
  const std::optional<double> r = ParseNumber(reference);
  if (a && r) return std::fabs(*a - *r) <= tolerance;
  return NormalizeAnswerText(answer) == NormalizeAnswerText(reference);
}

}  // namespace pelican::reward
