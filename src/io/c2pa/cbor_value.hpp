// A small CBOR value tree; encoding and decoding go through libcbor. C2PA needs exact bytes
// (hashes and signatures cover them), so encode() is deterministic: definite lengths,
// shortest integer forms, map entries in insertion order.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kinema::c2pa {

struct CborValue {
  enum class Kind { uint, negint, bytes, text, array, map, tag, null, boolean };
  Kind kind = Kind::null;
  uint64_t number = 0;  // uint value; negint n means -1-n; tag number; boolean 0/1
  std::vector<uint8_t> bytes;
  std::string text;
  std::vector<CborValue> items;                          // array items, or the tagged item
  std::vector<std::pair<CborValue, CborValue>> entries;  // map entries

  CborValue() = default;
  CborValue(const char* s) : kind(Kind::text), text(s) {}
  CborValue(std::string s) : kind(Kind::text), text(std::move(s)) {}
  static CborValue uint(uint64_t v);
  static CborValue integer(int64_t v);
  static CborValue bstr(std::vector<uint8_t> b);
  static CborValue array(std::vector<CborValue> items);
  static CborValue map(std::vector<std::pair<CborValue, CborValue>> entries);
  static CborValue tagged(uint64_t tag, CborValue item);
  static CborValue boolean_value(bool b);

  // Map lookup by text key (nullptr when absent or not a map).
  const CborValue* find(const std::string& key) const;
  const CborValue* find_int(int64_t key) const;
  bool is_text() const { return kind == Kind::text; }
  bool is_bytes() const { return kind == Kind::bytes; }
  bool is_map() const { return kind == Kind::map; }
  bool is_array() const { return kind == Kind::array; }
  // Compact JSON rendering for reports (bstr as hex, truncated past 64 bytes).
  std::string to_json() const;
};

std::vector<uint8_t> cbor_encode(const CborValue& v);
// Throws kinema::Error("[c2pa] ...") on malformed or trailing data.
CborValue cbor_decode(const uint8_t* data, size_t size);
inline CborValue cbor_decode(const std::vector<uint8_t>& b) { return cbor_decode(b.data(), b.size()); }

}  // namespace kinema::c2pa
