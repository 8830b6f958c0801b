// JUMBF boxes (ISO 19566-5) as C2PA uses them: superboxes `jumb` = `jumd` description (type
// UUID, toggles, label) + content boxes. See shared/design/C2PA-NOTES.md for the layout.
#pragma once
#include <string>
#include <vector>

#include "io/c2pa/bytes.hpp"

namespace kinema::c2pa {

// Type UUIDs: 4 ASCII bytes + 0011-0010-8000-00AA00389B71.
Bytes jumbf_type(const char fourcc[5]);

Bytes box(const char type[5], const Bytes& payload);
// A `jumb` superbox: description (type, label) followed by the given child boxes.
Bytes superbox(const char type4[5], const std::string& label, const std::vector<Bytes>& children);

struct JumbfNode {
  std::string type;   // 4 ASCII characters of the jumd type UUID ("c2pa", "c2ma", "cbor", ...)
  std::string label;
  size_t offset = 0;  // of the superbox within the parsed buffer
  size_t size = 0;    // whole superbox, header included
  std::vector<JumbfNode> children;   // child superboxes
  std::vector<std::pair<std::string, Bytes>> contents;  // child content boxes: (tbox, payload)
};

// Parses one superbox at data[offset..offset+size). Throws kinema::Error on malformed input.
JumbfNode parse_superbox(const Bytes& data, size_t offset, size_t size, int depth = 0);

}  // namespace kinema::c2pa
