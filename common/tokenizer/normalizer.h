// Unicode normalization applied to text between added tokens, before pre-tokenization. Supports
// HF's NFC, NFD, NFKC and NFKD normalizers, alone or in a Sequence (Qwen uses NFC; Llama 3 has no
// normalizer). Backed by ICU.
//
// Thread safety: immutable after Create; Normalize may be called concurrently.
#ifndef PELICAN_COMMON_TOKENIZER_NORMALIZER_H_
#define PELICAN_COMMON_TOKENIZER_NORMALIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pelican::tokenizer {

enum class NormalizationForm { kNFC, kNFD, kNFKC, kNFKD };

class Normalizer {
 public:
  // The forms are applied in order. Internal when ICU cannot provide one.
  static absl::StatusOr<std::unique_ptr<Normalizer>> Create(
      const std::vector<NormalizationForm>& forms);

  // Returns false when `text` is already normalized (then `*out` is untouched); otherwise writes
  // the normalized text to `*out`. REQUIRES: `text` is well-formed UTF-8.
  bool Normalize(absl::string_view text, std::string* out) const;

 private:
  Normalizer() = default;
  std::vector<const void*> steps_;  // const icu::Normalizer2*, owned by ICU
};

}  // namespace pelican::tokenizer

#endif  // PELICAN_COMMON_TOKENIZER_NORMALIZER_H_
