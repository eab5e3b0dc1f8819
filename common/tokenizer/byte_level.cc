#include "common/tokenizer/byte_level.h"

#include <array>

#include "common/tokenizer/utf8.h"

namespace pelican::tokenizer {
namespace {

bool MapsToItself(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

struct Tables {
  std::array<char32_t, 256> byte_to_char;
  std::array<int16_t, 512> char_to_byte;  // every code point of the alphabet is below U+0144
  Tables() {
    char_to_byte.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      byte_to_char[b] =
          MapsToItself(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      char_to_byte[byte_to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& GetTables() {
  static const Tables* const tables = new Tables();
  return *tables;
}

}  // namespace

char32_t ByteToChar(unsigned char b) { return GetTables().byte_to_char[b]; }

int CharToByte(char32_t c) { return c < 512 ? GetTables().char_to_byte[c] : -1; }

std::string BytesToByteLevel(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) AppendUtf8(ByteToChar(b), &out);
  return out;
}

bool ByteLevelToBytes(absl::string_view token, std::string* out) {
  const size_t old_size = out->size();
  size_t i = 0;
  while (i < token.size()) {
    int len;
    const char32_t c = DecodeUtf8(token, i, &len);
    const int b = CharToByte(c);
    if (b < 0) {
      out->resize(old_size);
      return false;
    }
    out->push_back(static_cast<char>(b));
    i += len;
  }
  return true;
}

}  // namespace pelican::tokenizer
