#include "io/c2pa/jumbf.hpp"

#include <algorithm>
#include <cstring>

#include "kinema/error.hpp"

namespace kinema::c2pa {

Bytes jumbf_type(const char fourcc[5]) {
  Bytes t(fourcc, fourcc + 4);
  const uint8_t tail[12] = {0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
  t.insert(t.end(), tail, tail + 12);
  return t;
}

Bytes box(const char type[5], const Bytes& payload) {
  Bytes out;
  put_be(out, payload.size() + 8, 4);
  out.insert(out.end(), type, type + 4);
  append(out, payload);
  return out;
}

Bytes superbox(const char type4[5], const std::string& label, const std::vector<Bytes>& children) {
  Bytes jumd = jumbf_type(type4);
  jumd.push_back(0x03);  // requestable, label present
  append(jumd, label);
  jumd.push_back(0);
  Bytes payload = box("jumd", jumd);
  for (const Bytes& c : children) append(payload, c);
  return box("jumb", payload);
}

JumbfNode parse_superbox(const Bytes& data, size_t offset, size_t size, int depth) {
  check(depth < 16, "c2pa", "JUMBF nested deeper than 16 levels");
  check(size >= 8 && offset + size <= data.size() && offset + size >= offset, "c2pa",
        "JUMBF box at ", offset, " overruns its container");
  check(get_be(&data[offset], 4) == size && std::memcmp(&data[offset + 4], "jumb", 4) == 0, "c2pa",
        "expected a jumb superbox at ", offset);
  JumbfNode node;
  node.offset = offset, node.size = size;
  size_t pos = offset + 8, end = offset + size;
  bool first = true;
  while (pos < end) {
    check(end - pos >= 8, "c2pa", "JUMBF box header truncated at ", pos);
    uint64_t len = get_be(&data[pos], 4);
    check(len >= 8 && len <= end - pos, "c2pa", "JUMBF box at ", pos, " has bad size ", len);
    std::string tbox(reinterpret_cast<const char*>(&data[pos + 4]), 4);
    if (first) {
      check(tbox == "jumd" && len >= 8 + 17, "c2pa", "JUMBF superbox at ", offset,
            " does not start with a description box");
      node.type.assign(reinterpret_cast<const char*>(&data[pos + 8]), 4);
      Bytes want = jumbf_type(node.type.c_str());
      check(std::equal(want.begin(), want.end(), data.begin() + long(pos + 8)), "c2pa",
            "JUMBF type UUID at ", pos + 8, " is not a C2PA/JUMBF type");
      uint8_t toggles = data[pos + 8 + 16];
      check((toggles & ~0x1f) == 0, "c2pa", "JUMBF toggles at ", pos + 24, " use reserved bits; got ", int(toggles));
      if (toggles & 0x02) {
        size_t s = pos + 8 + 17, e = s;
        while (e < pos + len && data[e] != 0) ++e;
        check(e < pos + len, "c2pa", "JUMBF label at ", s, " is not NUL-terminated");
        node.label.assign(reinterpret_cast<const char*>(&data[s]), e - s);
      }
      first = false;
    } else if (tbox == "jumb") {
      node.children.push_back(parse_superbox(data, pos, size_t(len), depth + 1));
    } else {
      node.contents.emplace_back(tbox, Bytes(data.begin() + long(pos + 8), data.begin() + long(pos + len)));
    }
    pos += size_t(len);
  }
  check(!first, "c2pa", "empty JUMBF superbox at ", offset);
  return node;
}

}  // namespace kinema::c2pa
