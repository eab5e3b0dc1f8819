// SHA-256 (OpenSSL), for config fingerprints and weight checksums.
#ifndef PELICAN_COMMON_HASH_H_
#define PELICAN_COMMON_HASH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace pelican {

// Lower-case hex SHA-256 of `data` (64 characters).
std::string Sha256Hex(absl::string_view data);

// Incremental SHA-256 for data that arrives in pieces. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  // Returns the hex digest; the object must not be updated afterwards.
  std::string HexDigest();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace pelican

#endif  // PELICAN_COMMON_HASH_H_
