// Learns a small byte-level BPE tokenizer from text and writes it as a Hugging Face tokenizer.json,
// so the built-in tiny models ship a tokenizer that HF tools and pelican's Tokenizer both load.
//   corpus --GPT-2 split--> word counts --merge the most frequent pair, repeatedly--> merges
//          --> tokenizer.json (256 byte tokens + merged tokens, then the special tokens)
#ifndef PELICAN_COMMON_TOKENIZER_BYTE_LEVEL_BPE_TRAINER_H_
#define PELICAN_COMMON_TOKENIZER_BYTE_LEVEL_BPE_TRAINER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pelican {

// Returns tokenizer.json text: ids 0..255 are the bytes (in byte order, spelled in GPT-2's byte
// alphabet), then one token per learned merge, then `special_tokens` as special added tokens, so
// the total is at most `vocab_size` (fewer when the corpus runs out of pairs to merge). The most
// frequent adjacent pair is merged first; ties go to the lexicographically smallest pair, so the
// result depends only on the arguments. Pre-tokenizer: a Split with the GPT-2 pattern, then
// ByteLevel; decoder ByteLevel. Special tokens in the corpus are not learned from.
// InvalidArgument when vocab_size < 256 + special_tokens.size(), or a special token is empty,
// repeated, or spelled like a vocabulary token.
absl::StatusOr<std::string> TrainByteLevelBpe(const std::vector<std::string>& corpus,
                                              int vocab_size,
                                              const std::vector<std::string>& special_tokens);

}  // namespace pelican

#endif  // PELICAN_COMMON_TOKENIZER_BYTE_LEVEL_BPE_TRAINER_H_
