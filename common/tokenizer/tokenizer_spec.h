// What a tokenizer.json says, as plain structs: the parse step (tokenizer_json.cc) fills a
// TokenizerSpec and Tokenizer builds its parts from it. Only what byte-level BPE uses is kept;
// everything else is refused by the parser with Unimplemented.
#ifndef PELICAN_COMMON_TOKENIZER_TOKENIZER_SPEC_H_
#define PELICAN_COMMON_TOKENIZER_TOKENIZER_SPEC_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tokenizer/added_vocabulary.h"
#include "common/tokenizer/bpe_model.h"
#include "common/tokenizer/normalizer.h"
#include "common/tokenizer/pre_tokenizer.h"

namespace pelican::tokenizer {

// One piece of a post-processing template: either the encoded text or fixed ids.
struct TemplatePiece {
  bool is_sequence = false;
  std::vector<int32_t> ids;  // when !is_sequence
};

enum class DecoderKind { kNone, kByteLevel };

struct TokenizerSpec {
  std::vector<NormalizationForm> normalizer;  // empty: none
  std::vector<PreTokenizerStep> pre_tokenizer;
  BpeConfig model;
  std::vector<AddedToken> added_tokens;  // in file order, ids as written in the file
  // What EncodeWithSpecial produces (TemplateProcessing's "single", composed through a Sequence);
  // empty when the post-processor adds nothing.
  std::vector<TemplatePiece> post_template;
  DecoderKind decoder = DecoderKind::kNone;
};

// Parses tokenizer.json text. InvalidArgument for malformed JSON or fields of the wrong type,
// Unimplemented (naming the field and type) for components other than byte-level BPE's.
absl::StatusOr<TokenizerSpec> ParseTokenizerJson(absl::string_view json);

}  // namespace pelican::tokenizer

#endif  // PELICAN_COMMON_TOKENIZER_TOKENIZER_SPEC_H_
