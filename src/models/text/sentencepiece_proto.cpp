// Protobuf wire format for sentencepiece's ModelProto (see sentencepiece_proto.hpp).
#include "models/text/sentencepiece_proto.hpp"

#include <cstring>

#include "kinema/error.hpp"

namespace kinema::text::proto {

void Writer::varint(uint64_t v) {
  while (v >= 0x80) {
    out_ += char((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out_ += char(v);
}

void Writer::varint_field(int number, int64_t value) {
  varint(uint64_t(number) << 3 | 0);
  varint(uint64_t(value));  // proto's int32: a negative value is its 64-bit two's complement
}

void Writer::float_field(int number, float value) {
  varint(uint64_t(number) << 3 | 5);
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  for (int i = 0; i < 4; ++i) out_ += char((bits >> (8 * i)) & 0xff);  // little-endian
}

void Writer::bytes_field(int number, std::string_view bytes) {
  varint(uint64_t(number) << 3 | 2);
  varint(bytes.size());
  out_.append(bytes);
}

namespace {

uint64_t read_varint(std::string_view m, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    KINEMA_CHECK(at < m.size(), "protobuf", "varint runs past the end of a ", m.size(), "-byte message");
    const uint8_t b = uint8_t(m[at++]);
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  fail("protobuf", "varint longer than 10 bytes at byte ", at);
}

}  // namespace

std::vector<Field> read_fields(std::string_view m) {
  std::vector<Field> fields;
  size_t at = 0;
  while (at < m.size()) {
    const uint64_t key = read_varint(m, at);
    Field f;
    f.number = int(key >> 3), f.wire = int(key & 7);
    KINEMA_CHECK(f.number > 0 && (key >> 3) < (1u << 29), "protobuf", "bad field number ", key >> 3);
    if (f.wire == 0) {
      f.value = read_varint(m, at);
    } else if (f.wire == 2) {
      const uint64_t n = read_varint(m, at);
      KINEMA_CHECK(n <= m.size() - at, "protobuf", "field ", f.number, " claims ", n, " bytes but ",
                   m.size() - at, " are left");
      f.bytes = m.substr(at, size_t(n));
      at += size_t(n);
    } else if (f.wire == 5 || f.wire == 1) {
      const size_t n = f.wire == 5 ? 4 : 8;
      KINEMA_CHECK(n <= m.size() - at, "protobuf", "field ", f.number, " is truncated");
      for (size_t i = 0; i < n; ++i) f.value |= uint64_t(uint8_t(m[at + i])) << (8 * i);
      at += n;
    } else {
      fail("protobuf", "field ", f.number, " has wire type ", f.wire, ", which sentencepiece models do not use");
    }
    fields.push_back(f);
  }
  return fields;
}

float as_float(const Field& f) {
  const uint32_t bits = uint32_t(f.value);
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

}  // namespace kinema::text::proto
