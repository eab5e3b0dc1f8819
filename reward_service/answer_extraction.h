// Final-answer extraction and answer comparison for verifiers:
//
//   completion text ──ExtractAnswer──► "1,234." ──ParseNumber──► 1234 ──AnswersMatch── reference
//
// Extraction forms (pelican.v1.AnswerExtraction):
// - HASHES: the rest of the line after the last "####" (GSM8K), trimmed.
// - BOXED: the contents of the last balanced \boxed{...}, nested braces allowed, trimmed.
// - LAST_NUMBER: the last number in the text (see ExtractLastNumber).
// - WHOLE: the whole text, trimmed.
// - AUTO (and UNSPECIFIED, whose documented default is AUTO): HASHES, else BOXED, else
//   LAST_NUMBER.
// A form that is absent, or whose contents are empty, yields nullopt: the text has no answer.
//
// All functions are pure and thread-safe.
#ifndef PELICAN_REWARD_SERVICE_ANSWER_EXTRACTION_H_
#define PELICAN_REWARD_SERVICE_ANSWER_EXTRACTION_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "pelican/v1/config.pb.h"

namespace pelican::reward {

std::optional<std::string> ExtractAnswer(absl::string_view text, v1::AnswerExtraction mode);

std::optional<std::string> ExtractHashesAnswer(absl::string_view text);
std::optional<std::string> ExtractBoxedAnswer(absl::string_view text);

// The last number in `text`: digits with optional thousands separators ("1,234"), an optional
// decimal part ("3.25", ".5") or an integer fraction ("3/4"), and a sign ('-', '+' or U+2212)
// when the sign does not follow a letter or digit ("5-3" ends in "3", "x = -3" in "-3"). A
// trailing sentence period is not part of the number.
std::optional<std::string> ExtractLastNumber(absl::string_view text);

// Parses an answer as a number after normalising it: surrounding whitespace, one trailing period,
// a leading "$" or "\$", a trailing "%" or "\%" (dropped, not divided by 100), thousands commas
// (only in groups of three: "1,234" yes, "1,23" no), a sign, decimals, integer fractions "3/4"
// and LaTeX \frac{3}{4} (also \dfrac, \tfrac). nullopt when `s` is not such a number (a zero
// denominator included). Doubles are exact for integers up to 2^53.
std::optional<double> ParseNumber(absl::string_view s);

// Text form used when an answer is not a number: trimmed, one trailing period removed.
std::string NormalizeAnswerText(absl::string_view s);

// Whether `answer` matches `reference`: when both parse as numbers, |answer - reference| <=
// tolerance (0 = equal); otherwise their NormalizeAnswerText forms are equal.
bool AnswersMatch(absl::string_view answer, absl::string_view reference, double tolerance);

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_ANSWER_EXTRACTION_H_
