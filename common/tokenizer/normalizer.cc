#include "common/tokenizer/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pelican::tokenizer {

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::Create(
    const std::vector<NormalizationForm>& forms) {
  std::unique_ptr<Normalizer> n(new Normalizer());
  for (NormalizationForm form : forms) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* instance = nullptr;
    switch (form) {
      case NormalizationForm::kNFC:
        instance = icu::Normalizer2::getNFCInstance(status);
        break;
      case NormalizationForm::kNFD:
        instance = icu::Normalizer2::getNFDInstance(status);
        break;
      case NormalizationForm::kNFKC:
        instance = icu::Normalizer2::getNFKCInstance(status);
        break;
      case NormalizationForm::kNFKD:
        instance = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    if (U_FAILURE(status) || instance == nullptr) {
      return absl::InternalError(absl::StrCat("ICU normalizer unavailable: ", u_errorName(status)));
    }
    n->steps_.push_back(instance);
  }
  return n;
}

bool Normalizer::Normalize(absl::string_view text, std::string* out) const {
  bool changed = false;
  std::string current;
  for (const void* step : steps_) {
    const auto* normalizer = static_cast<const icu::Normalizer2*>(step);
    const absl::string_view input = changed ? absl::string_view(current) : text;
    // ASCII is invariant under all four forms.
    bool ascii = true;
    for (char c : input) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) continue;
    UErrorCode status = U_ZERO_ERROR;
    const icu::StringPiece piece(input.data(), static_cast<int32_t>(input.size()));
    if (normalizer->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) continue;
    std::string normalized;
    icu::StringByteSink<std::string> sink(&normalized, static_cast<int32_t>(input.size()));
    status = U_ZERO_ERROR;
    normalizer->normalizeUTF8(0, piece, sink, nullptr, status);
    if (U_FAILURE(status)) continue;  // only on allocation failure; keep the text as it is
    current = std::move(normalized);
    changed = true;
  }
  if (changed) *out = std::move(current);
  return changed;
}

}  // namespace pelican::tokenizer
