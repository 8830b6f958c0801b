#include "serve/random_id.hpp"

#include <sodium.h>

#include <vector>

#include "kinema/error.hpp"

namespace kinema::serve {
namespace {

std::vector<unsigned char> random_bytes(size_t n) {
  static const bool ready = sodium_init() >= 0;
  check(ready, "serve", "libsodium failed to initialise");
  std::vector<unsigned char> b(n);
  randombytes_buf(b.data(), n);
  return b;
}

}  // namespace

std::string random_hex(size_t bytes) {
  const auto b = random_bytes(bytes);
  std::string out(bytes * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

std::string random_base64url(size_t bytes) {
  const auto b = random_bytes(bytes);
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), variant);
  out.resize(out.find('\0'));
  return out;
}

}  // namespace kinema::serve
