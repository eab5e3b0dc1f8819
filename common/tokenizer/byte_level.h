// GPT-2's byte-level alphabet: every byte 0..255 stands for one printable code point, so byte
// strings can live in a string vocabulary. Bytes that are printable Latin-1 (! to ~, ¡ to ¬, ® to
// ÿ) map to themselves; the other 68 map to U+0100.. in byte order (space becomes 'Ġ', '\n' 'Ċ').
// Encoding maps input bytes to these characters before BPE; decoding maps them back.
#ifndef PELICAN_COMMON_TOKENIZER_BYTE_LEVEL_H_
#define PELICAN_COMMON_TOKENIZER_BYTE_LEVEL_H_

#include <string>

#include "absl/strings/string_view.h"

namespace pelican::tokenizer {

// The code point that stands for byte `b`.
char32_t ByteToChar(unsigned char b);

// The byte that code point `c` stands for, or -1 when `c` is not in the alphabet.
int CharToByte(char32_t c);

// Maps every byte of `bytes` to its character: the vocabulary spelling of a byte string.
std::string BytesToByteLevel(absl::string_view bytes);

// Maps the characters of `token` (UTF-8) back to bytes and appends them to `*out`. Returns false,
// appending nothing, when some character is outside the alphabet.
bool ByteLevelToBytes(absl::string_view token, std::string* out);

}  // namespace pelican::tokenizer

#endif  // PELICAN_COMMON_TOKENIZER_BYTE_LEVEL_H_
