#include "io/c2pa/cbor_value.hpp"

#include <cbor.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "kinema/error.hpp"

namespace kinema::c2pa {
namespace {

struct ItemDeleter {
  void operator()(cbor_item_t* i) const { cbor_decref(&i); }
};
using ItemPtr = std::unique_ptr<cbor_item_t, ItemDeleter>;

cbor_item_t* build_uint(uint64_t v) {
  if (v <= 0xff) return cbor_build_uint8(uint8_t(v));
  if (v <= 0xffff) return cbor_build_uint16(uint16_t(v));
  if (v <= 0xffffffffu) return cbor_build_uint32(uint32_t(v));
  return cbor_build_uint64(v);
}

cbor_item_t* build_negint(uint64_t v) {
  if (v <= 0xff) return cbor_build_negint8(uint8_t(v));
  if (v <= 0xffff) return cbor_build_negint16(uint16_t(v));
  if (v <= 0xffffffffu) return cbor_build_negint32(uint32_t(v));
  return cbor_build_negint64(v);
}

// Returns a new reference.
cbor_item_t* to_item(const CborValue& v) {
  using K = CborValue::Kind;
  switch (v.kind) {
    case K::uint: return build_uint(v.number);
    case K::negint: return build_negint(v.number);
    case K::bytes: return cbor_build_bytestring(v.bytes.data(), v.bytes.size());
    case K::text: return cbor_build_stringn(v.text.data(), v.text.size());
    case K::null: return cbor_new_null();
    case K::boolean: return cbor_build_bool(v.number != 0);
    case K::tag: return cbor_build_tag(v.number, cbor_move(to_item(v.items.at(0))));
    case K::array: {
      cbor_item_t* a = cbor_new_definite_array(v.items.size());
      for (const CborValue& i : v.items) cbor_array_push(a, cbor_move(to_item(i)));
      return a;
    }
    case K::map: {
      cbor_item_t* m = cbor_new_definite_map(v.entries.size());
      for (const auto& [k, val] : v.entries)
        cbor_map_add(m, cbor_pair{cbor_move(to_item(k)), cbor_move(to_item(val))});
      return m;
    }
  }
  return cbor_new_null();
}

uint64_t int_value(const cbor_item_t* i) { return cbor_get_int(i); }

CborValue from_item(const cbor_item_t* i, int depth) {
  check(depth < 64, "c2pa", "CBOR nested deeper than 64 levels");
  CborValue v;
  using K = CborValue::Kind;
  switch (cbor_typeof(i)) {
    case CBOR_TYPE_UINT: v.kind = K::uint, v.number = int_value(i); break;
    case CBOR_TYPE_NEGINT: v.kind = K::negint, v.number = int_value(i); break;
    case CBOR_TYPE_BYTESTRING:
      check(cbor_bytestring_is_definite(i), "c2pa", "indefinite byte strings are not supported");
      v.kind = K::bytes;
      v.bytes.assign(cbor_bytestring_handle(i), cbor_bytestring_handle(i) + cbor_bytestring_length(i));
      break;
    case CBOR_TYPE_STRING:
      check(cbor_string_is_definite(i), "c2pa", "indefinite text strings are not supported");
      v.kind = K::text;
      v.text.assign(reinterpret_cast<const char*>(cbor_string_handle(i)), cbor_string_length(i));
      break;
    case CBOR_TYPE_ARRAY: {
      v.kind = K::array;
      cbor_item_t** h = cbor_array_handle(i);
      for (size_t k = 0; k < cbor_array_size(i); ++k) v.items.push_back(from_item(h[k], depth + 1));
      break;
    }
    case CBOR_TYPE_MAP: {
      v.kind = K::map;
      cbor_pair* h = cbor_map_handle(i);
      for (size_t k = 0; k < cbor_map_size(i); ++k)
        v.entries.emplace_back(from_item(h[k].key, depth + 1), from_item(h[k].value, depth + 1));
      break;
    }
    case CBOR_TYPE_TAG: {
      v.kind = K::tag, v.number = cbor_tag_value(i);
      ItemPtr inner(cbor_tag_item(i));  // cbor_tag_item returns a new reference
      v.items.push_back(from_item(inner.get(), depth + 1));
      break;
    }
    case CBOR_TYPE_FLOAT_CTRL:
      if (cbor_is_null(i) || cbor_is_undef(i)) {
        v.kind = K::null;
      } else if (cbor_is_bool(i)) {
        v.kind = K::boolean, v.number = cbor_get_bool(i) ? 1 : 0;
      } else {
        fail("c2pa", "CBOR floats are not expected in a C2PA manifest");
      }
      break;
  }
  return v;
}

void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += char(c);
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else out += char(c);
  }
  out += '"';
}

void to_json_into(const CborValue& v, std::string& out) {
  using K = CborValue::Kind;
  switch (v.kind) {
    case K::uint: out += std::to_string(v.number); break;
    case K::negint: out += "-" + std::to_string(v.number + 1); break;
    case K::text: json_string(out, v.text); break;
    case K::null: out += "null"; break;
    case K::boolean: out += v.number ? "true" : "false"; break;
    case K::tag: to_json_into(v.items.at(0), out); break;
    case K::bytes: {
      std::string hex;
      char buf[3];
      for (size_t i = 0; i < v.bytes.size() && i < 64; ++i) {
        std::snprintf(buf, sizeof(buf), "%02x", v.bytes[i]);
        hex += buf;
      }
      if (v.bytes.size() > 64) hex += "...";
      json_string(out, hex);
      break;
    }
    case K::array:
      out += '[';
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        to_json_into(v.items[i], out);
      }
      out += ']';
      break;
    case K::map:
      out += '{';
      for (size_t i = 0; i < v.entries.size(); ++i) {
        if (i) out += ',';
        const CborValue& k = v.entries[i].first;
        json_string(out, k.is_text() ? k.text : k.to_json());
        out += ':';
        to_json_into(v.entries[i].second, out);
      }
      out += '}';
      break;
  }
}

// Walks item headers before libcbor sees the data: every declared length or count must fit in
// the bytes that remain (each item takes at least one byte). libcbor allocates arrays and
// maps at their declared size first, so a 5-byte header could otherwise ask for gigabytes.
// Returns the offset just past the item at pos.
size_t prescan(const uint8_t* d, size_t size, size_t pos, int depth) {
  check(depth < 64, "c2pa", "CBOR nested deeper than 64 levels");
  check(pos < size, "c2pa", "CBOR truncated at byte ", pos);
  uint8_t major = d[pos] >> 5, ai = d[pos] & 31;
  ++pos;
  uint64_t arg = ai;
  if (ai >= 24 && ai <= 27) {
    size_t n = size_t(1) << (ai - 24);
    check(size - pos >= n, "c2pa", "CBOR truncated at byte ", pos);
    arg = 0;
    for (size_t i = 0; i < n; ++i) arg = (arg << 8) | d[pos + i];
    pos += n;
  } else {
    check(ai < 24, "c2pa", "CBOR indefinite or reserved encoding at byte ", pos - 1, " is not supported");
  }
  uint64_t left = size - pos;
  switch (major) {
    case 2:
    case 3:
      check(arg <= left, "c2pa", "CBOR string at byte ", pos, " declares ", arg, " bytes; ", left, " remain");
      return pos + size_t(arg);
    case 4:
      check(arg <= left, "c2pa", "CBOR array at byte ", pos, " declares ", arg, " items; ", left, " bytes remain");
      for (uint64_t i = 0; i < arg; ++i) pos = prescan(d, size, pos, depth + 1);
      return pos;
    case 5:
      check(arg <= left / 2, "c2pa", "CBOR map at byte ", pos, " declares ", arg, " entries; ", left, " bytes remain");
      for (uint64_t i = 0; i < 2 * arg; ++i) pos = prescan(d, size, pos, depth + 1);
      return pos;
    case 6: return prescan(d, size, pos, depth + 1);
    default: return pos;  // integers, simple values and floats carry no children
  }
}

}  // namespace

CborValue CborValue::uint(uint64_t v) {
  CborValue c;
  c.kind = Kind::uint, c.number = v;
  return c;
}
CborValue CborValue::integer(int64_t v) {
  if (v >= 0) return uint(uint64_t(v));
  CborValue c;
  c.kind = Kind::negint, c.number = uint64_t(-(v + 1));
  return c;
}
CborValue CborValue::bstr(std::vector<uint8_t> b) {
  CborValue c;
  c.kind = Kind::bytes, c.bytes = std::move(b);
  return c;
}
CborValue CborValue::array(std::vector<CborValue> items) {
  CborValue c;
  c.kind = Kind::array, c.items = std::move(items);
  return c;
}
CborValue CborValue::map(std::vector<std::pair<CborValue, CborValue>> entries) {
  CborValue c;
  c.kind = Kind::map, c.entries = std::move(entries);
  return c;
}
CborValue CborValue::tagged(uint64_t tag, CborValue item) {
  CborValue c;
  c.kind = Kind::tag, c.number = tag;
  c.items.push_back(std::move(item));
  return c;
}
CborValue CborValue::boolean_value(bool b) {
  CborValue c;
  c.kind = Kind::boolean, c.number = b ? 1 : 0;
  return c;
}

const CborValue* CborValue::find(const std::string& key) const {
  if (kind != Kind::map) return nullptr;
  for (const auto& [k, v] : entries)
    if (k.kind == Kind::text && k.text == key) return &v;
  return nullptr;
}

const CborValue* CborValue::find_int(int64_t key) const {
  if (kind != Kind::map) return nullptr;
  CborValue want = integer(key);
  for (const auto& [k, v] : entries)
    if (k.kind == want.kind && k.number == want.number) return &v;
  return nullptr;
}

std::string CborValue::to_json() const {
  std::string out;
  to_json_into(*this, out);
  return out;
}

std::vector<uint8_t> cbor_encode(const CborValue& v) {
  ItemPtr item(to_item(v));
  check(item != nullptr, "c2pa", "out of memory building CBOR");
  unsigned char* buf = nullptr;
  size_t cap = 0;
  size_t n = cbor_serialize_alloc(item.get(), &buf, &cap);
  check(n > 0 && buf != nullptr, "c2pa", "CBOR serialization failed");
  std::vector<uint8_t> out(buf, buf + n);
  std::free(buf);
  return out;
}

CborValue cbor_decode(const uint8_t* data, size_t size) {
  check(size > 0, "c2pa", "empty CBOR where a value was expected");
  // libcbor 0.8 rejects one-byte tags 6..20 as malformed, and COSE_Sign1 is tag 18: take an
  // outer one-byte tag off by hand.
  if (data[0] >= 0xc6 && data[0] <= 0xd4)
    return CborValue::tagged(data[0] - 0xc0u, cbor_decode(data + 1, size - 1));
  size_t end = prescan(data, size, 0, 0);
  check(end == size, "c2pa", "trailing bytes after CBOR; got ", size, " bytes, value ends at ", end);
  cbor_load_result res{};
  ItemPtr item(cbor_load(data, size, &res));
  check(item != nullptr && res.error.code == CBOR_ERR_NONE, "c2pa", "malformed CBOR at byte ",
        res.error.position, " of ", size);
  check(res.read == size, "c2pa", "trailing bytes after CBOR; got ", size, " bytes, value ends at ",
        res.read);
  return from_item(item.get(), 0);
}

}  // namespace kinema::c2pa
