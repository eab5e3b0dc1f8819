// Hugging Face tokenizer.json byte-level BPE (Qwen2/Qwen3, Llama 3, GPT-2 style vocabularies),
// giving the same ids as HF tokenizers. The actor encodes prompts and decodes completions with it;
// the reward service decodes; its fingerprint travels in RegisterActor and Info.
//
//   text --repair invalid UTF-8--> --split out raw added tokens--> segments
//        --normalize (NFC...)--> --split out normalized added tokens--> --pre-tokenize-->
//        pieces --byte-level BPE--> ids [--post-processor template--> ids]   (EncodeWithSpecial)
//   ids --tokens--> --ByteLevel decoder--> bytes --lossy UTF-8--> text
//
// Thread safety: a Tokenizer is immutable after construction (its word cache is internally
// locked); every const method may be called from many threads at once.
#ifndef PELICAN_COMMON_TOKENIZER_TOKENIZER_H_
#define PELICAN_COMMON_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tokenizer/added_vocabulary.h"
#include "common/tokenizer/bpe_model.h"
#include "common/tokenizer/normalizer.h"
#include "common/tokenizer/pre_tokenizer.h"
#include "common/tokenizer/tokenizer_spec.h"

namespace pelican {

class Tokenizer {
 public:
  // Loads a tokenizer.json. Errors: NotFound / PermissionDenied from reading, InvalidArgument for a
  // malformed file, Unimplemented for components other than byte-level BPE's (see
  // tokenizer_spec.h).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(absl::string_view json);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Ids of `text` without the post-processor's BOS/EOS (HF: encode(text,
  // add_special_tokens=false)). Added tokens written in the text ("<|im_start|>") are recognised.
  // Ill-formed UTF-8 is first repaired (each maximal ill-formed subpart becomes U+FFFD), as a
  // JavaScript caller's TextDecoder would do before handing the string to HF.
  std::vector<int32_t> Encode(absl::string_view text) const;
  // Ids with the post-processor's template applied (HF: add_special_tokens=true); the same as
  // Encode when the post-processor adds nothing (ByteLevel, or none).
  std::vector<int32_t> EncodeWithSpecial(absl::string_view text) const;

  // Text of `ids` (HF: decode). InvalidArgument naming the first id outside the vocabulary.
  // Bytes that do not form UTF-8 (a character cut between ids) come out as U+FFFD.
  absl::StatusOr<std::string> Decode(const std::vector<int32_t>& ids,
                                     bool skip_special_tokens = false) const;

  // One more than the largest id (model vocabulary and added tokens): ids are in [0, vocab_size).
  int64_t vocab_size() const { return vocab_size_; }
  std::optional<int32_t> TokenToId(absl::string_view token) const;
  // The vocabulary spelling of `id` (byte-level characters, e.g. "Ġthe"), or its added-token text.
  std::optional<std::string> IdToToken(int32_t id) const;
  // True for added tokens marked special (what Decode(skip_special_tokens=true) drops).
  bool IsSpecial(int32_t id) const;
  // First 16 hex characters of the SHA-256 of the tokenizer.json text.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  Tokenizer() = default;
  absl::Status Build(tokenizer::TokenizerSpec spec);
  void EncodeValid(absl::string_view text, std::vector<int32_t>* ids) const;
  void EncodeSegment(absl::string_view segment, std::vector<int32_t>* ids) const;

  // All constant after construction.
  std::unique_ptr<tokenizer::Normalizer> normalizer_;  // null: no normalizer
  std::unique_ptr<tokenizer::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<tokenizer::BpeModel> model_;
  std::unique_ptr<tokenizer::AddedTokenMatcher> raw_added_;         // matched before normalizing
  std::unique_ptr<tokenizer::AddedTokenMatcher> normalized_added_;  // matched after
  absl::flat_hash_map<int32_t, tokenizer::AddedToken> added_by_id_;
  absl::flat_hash_map<std::string, int32_t> added_by_content_;
  absl::flat_hash_set<std::string> special_contents_;
  // An added token with normalized=true reads as its normalized content (NFKC: "Ⅻ" -> "XII") in
  // decode and IdToToken, as in HF tokenizers; only those whose content the normalizer changes.
  absl::flat_hash_map<int32_t, std::string> normalized_text_by_id_;
  std::vector<tokenizer::TemplatePiece> post_template_;  // empty: adds nothing
  tokenizer::DecoderKind decoder_ = tokenizer::DecoderKind::kNone;
  int64_t vocab_size_ = 0;
  std::string fingerprint_;
};

}  // namespace pelican

#endif  // PELICAN_COMMON_TOKENIZER_TOKENIZER_H_
