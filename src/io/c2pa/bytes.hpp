// Byte helpers for the C2PA code: big-endian fields, SHA-256, hex, random, file I/O.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kinema::c2pa {

using Bytes = std::vector<uint8_t>;

inline void put_be(Bytes& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
}
inline uint64_t get_be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}
inline void set_be(uint8_t* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}
inline void append(Bytes& out, const Bytes& b) { out.insert(out.end(), b.begin(), b.end()); }
inline void append(Bytes& out, const std::string& s) { out.insert(out.end(), s.begin(), s.end()); }

// Incremental SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const uint8_t* p, size_t n);
  void update(const Bytes& b) { update(b.data(), b.size()); }
  Bytes finish();

 private:
  void* ctx_;
};
Bytes sha256(const uint8_t* p, size_t n);
inline Bytes sha256(const Bytes& b) { return sha256(b.data(), b.size()); }

std::string hex(const Bytes& b);
Bytes random_bytes(size_t n);
std::string uuid4();  // "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
std::string utc_now_iso8601();

Bytes read_file(const std::string& path, const char* where);
// Writes atomically: path.tmp then rename.
void write_file_atomic(const std::string& path, const Bytes& data, const char* where);

}  // namespace kinema::c2pa
