#include "io/c2pa/bytes.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "kinema/error.hpp"

namespace kinema::c2pa {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  check(ctx_ && EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) == 1,
        "c2pa", "cannot start SHA-256");
}
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256::update(const uint8_t* p, size_t n) {
  if (n) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), p, n);
}
Bytes Sha256::finish() {
  Bytes out(32);
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &len);
  return out;
}

Bytes sha256(const uint8_t* p, size_t n) {
  Sha256 h;
  h.update(p, n);
  return h.finish();
}

std::string hex(const Bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) s += d[c >> 4], s += d[c & 15];
  return s;
}

Bytes random_bytes(size_t n) {
  Bytes b(n);
  check(RAND_bytes(b.data(), int(n)) == 1, "c2pa", "no randomness available");
  return b;
}

std::string uuid4() {
  Bytes b = random_bytes(16);
  b[6] = uint8_t((b[6] & 0x0f) | 0x40);
  b[8] = uint8_t((b[8] & 0x3f) | 0x80);
  std::string h = hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

std::string utc_now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Bytes read_file(const std::string& path, const char* where) {
  std::ifstream f(path, std::ios::binary);
  check(f.good(), where, "cannot open '", path, "'");
  Bytes b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  check(!f.bad(), where, "cannot read '", path, "'");
  return b;
}

void write_file_atomic(const std::string& path, const Bytes& data, const char* where) {
  std::string tmp = path + ".kinema-tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    check(f.good(), where, "cannot create '", tmp, "'");
    f.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
    f.flush();
    check(f.good(), where, "cannot write '", tmp, "' (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  check(!ec, where, "cannot replace '", path, "': ", ec.message());
}

}  // namespace kinema::c2pa
