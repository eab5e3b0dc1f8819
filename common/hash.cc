#include "common/hash.h"

#include <openssl/evp.h>

#include "common/status_macros.h"

namespace pelican {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(new Impl) {
  impl_->ctx = EVP_MD_CTX_new();
  PELICAN_CHECK(impl_->ctx != nullptr && EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) == 1)
      << "OpenSSL SHA-256 initialisation failed";
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(impl_->ctx);
  delete impl_;
}

void Sha256::Update(const void* data, size_t size) {
  PELICAN_CHECK(EVP_DigestUpdate(impl_->ctx, data, size) == 1) << "OpenSSL SHA-256 update failed";
}

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  PELICAN_CHECK(EVP_DigestFinal_ex(impl_->ctx, digest, &len) == 1) << "OpenSSL SHA-256 failed";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

std::string Sha256Hex(absl::string_view data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.HexDigest();
}

}  // namespace pelican
