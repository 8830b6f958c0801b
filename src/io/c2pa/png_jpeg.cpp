#include <algorithm>
#include <array>
#include <cstring>

#include "io/c2pa/containers.hpp"
#include "io/c2pa/manifest.hpp"
#include "kinema/error.hpp"

namespace kinema::c2pa {
namespace {

const uint8_t kPngSig[8] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10};

uint32_t crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

struct PngChunk {
  size_t offset, length;  // length = data length
  std::string type;
};

std::vector<PngChunk> png_chunks(const Bytes& png) {
  check(png.size() >= 8 && std::memcmp(png.data(), kPngSig, 8) == 0, "c2pa png", "not a PNG file");
  std::vector<PngChunk> chunks;
  size_t pos = 8;
  while (pos + 12 <= png.size()) {
    uint64_t len = get_be(&png[pos], 4);
    check(len <= png.size() - pos - 12, "c2pa png", "chunk at byte ", pos, " overruns the file");
    chunks.push_back({pos, size_t(len), std::string(reinterpret_cast<const char*>(&png[pos + 4]), 4)});
    pos += 12 + size_t(len);
    if (chunks.back().type == "IEND") break;
  }
  check(!chunks.empty() && chunks[0].type == "IHDR", "c2pa png", "PNG does not start with IHDR");
  return chunks;
}

Bytes png_chunk(const char* type, const Bytes& data) {
  Bytes c;
  put_be(c, data.size(), 4);
  c.insert(c.end(), type, type + 4);
  append(c, data);
  put_be(c, crc32(&c[4], data.size() + 4), 4);
  return c;
}

// JPEG segments before the entropy-coded data: (offset of 0xFF marker, marker, total length).
struct JpegSeg {
  size_t offset, size;
  uint8_t marker;
};

std::vector<JpegSeg> jpeg_segments(const Bytes& j) {
  check(j.size() >= 4 && j[0] == 0xFF && j[1] == 0xD8, "c2pa jpeg", "not a JPEG file (no SOI)");
  std::vector<JpegSeg> segs;
  size_t pos = 2;
  while (pos + 4 <= j.size() && j[pos] == 0xFF) {
    uint8_t m = j[pos + 1];
    if (m == 0xDA || m == 0xD9) break;  // start of scan / end: no more header segments
    size_t len = size_t(get_be(&j[pos + 2], 2));
    check(len >= 2 && pos + 2 + len <= j.size(), "c2pa jpeg", "segment at byte ", pos, " overruns the file");
    segs.push_back({pos, 2 + len, m});
    pos += 2 + len;
  }
  return segs;
}

bool is_c2pa_app11(const Bytes& j, const JpegSeg& s) {
  return s.marker == 0xEB && s.size >= 2 + 2 + 8 + 8 && j[s.offset + 4] == 'J' && j[s.offset + 5] == 'P';
}

// Splits the store into APP11 segments: "JP", En, Z, then data; continuations repeat the
// superbox's LBox/TBox (ISO 19566-5 A.2).
Bytes app11_segments(const Bytes& store) {
  const size_t kMaxData = 65535 - 2 - 8;  // Lp covers itself (2) and CI+En+Z (8)
  Bytes out;
  size_t pos = 0;
  uint32_t z = 1;
  while (pos < store.size()) {
    Bytes payload;
    if (pos > 0) payload.insert(payload.end(), store.begin(), store.begin() + 8);
    size_t take = std::min(store.size() - pos, kMaxData - payload.size());
    payload.insert(payload.end(), store.begin() + long(pos), store.begin() + long(pos + take));
    pos += take;
    out.push_back(0xFF), out.push_back(0xEB);
    put_be(out, 2 + 8 + payload.size(), 2);
    out.push_back('J'), out.push_back('P');
    put_be(out, 1, 2);  // box instance number En
    put_be(out, z++, 4);
    append(out, payload);
  }
  return out;
}

// Inserts a container produced by wrap(store) at `at`, settling the exclusion length.
Bytes embed_at(const Bytes& file, size_t at, const StoreMaker& make,
               const std::function<Bytes(const Bytes&)>& wrap) {
  HardBinding b;
  b.kind = HardBinding::Kind::data;
  b.has_exclusion = true;
  b.exclusion_start = at;
  b.hash = sha256(file);  // the output minus the inserted range is exactly the input
  Bytes block;
  for (int pass = 0; pass < 4; ++pass) {
    block = wrap(make(b));
    if (block.size() == b.exclusion_length) break;
    b.exclusion_length = block.size();
  }
  check(block.size() == b.exclusion_length, "c2pa", "manifest size did not settle");
  Bytes out(file.begin(), file.begin() + long(at));
  append(out, block);
  out.insert(out.end(), file.begin() + long(at), file.end());
  return out;
}

}  // namespace

Bytes data_hash(const Bytes& data, const std::vector<std::pair<uint64_t, uint64_t>>& exclusions) {
  Sha256 h;
  uint64_t pos = 0;
  auto sorted = exclusions;
  std::sort(sorted.begin(), sorted.end());
  for (auto [start, len] : sorted) {
    if (start > data.size()) break;
    if (start > pos) h.update(&data[pos], size_t(start - pos));
    pos = std::max(pos, std::min<uint64_t>(data.size(), start + len));
  }
  if (pos < data.size()) h.update(&data[pos], size_t(data.size() - pos));
  return h.finish();
}

std::optional<FoundStore> png_find_store(const Bytes& png) {
  for (const PngChunk& c : png_chunks(png))
    if (c.type == "caBX")
      return FoundStore{Bytes(png.begin() + long(c.offset + 8), png.begin() + long(c.offset + 8 + c.length)),
                        c.offset, c.length + 12};
  return std::nullopt;
}

Bytes png_strip(const Bytes& png) {
  Bytes out(png.begin(), png.begin() + 8);
  size_t end = 8;
  for (const PngChunk& c : png_chunks(png)) {
    end = c.offset + 12 + c.length;
    if (c.type != "caBX") out.insert(out.end(), png.begin() + long(c.offset), png.begin() + long(end));
  }
  out.insert(out.end(), png.begin() + long(end), png.end());
  return out;
}

Bytes png_embed(const Bytes& png_in, const StoreMaker& make) {
  Bytes png = png_strip(png_in);
  const PngChunk ihdr = png_chunks(png)[0];
  return embed_at(png, ihdr.offset + 12 + ihdr.length, make,
                  [](const Bytes& store) { return png_chunk("caBX", store); });
}

std::optional<FoundStore> jpeg_find_store(const Bytes& j) {
  std::optional<FoundStore> found;
  for (const JpegSeg& s : jpeg_segments(j)) {
    if (!is_c2pa_app11(j, s)) continue;
    const uint8_t* data = &j[s.offset + 4 + 8];
    size_t n = s.size - 4 - 8;
    if (!found) {
      found = FoundStore{Bytes(data, data + n), s.offset, 0};
    } else {
      check(n >= 8, "c2pa jpeg", "APP11 continuation at byte ", s.offset, " is too short");
      found->store.insert(found->store.end(), data + 8, data + n);  // skip repeated LBox/TBox
    }
    found->length = s.offset + s.size - found->start;
  }
  return found;
}

Bytes jpeg_strip(const Bytes& j) {
  Bytes out(j.begin(), j.begin() + 2);
  size_t end = 2;
  for (const JpegSeg& s : jpeg_segments(j)) {
    end = s.offset + s.size;
    if (!is_c2pa_app11(j, s)) out.insert(out.end(), j.begin() + long(s.offset), j.begin() + long(end));
  }
  out.insert(out.end(), j.begin() + long(end), j.end());
  return out;
}

Bytes jpeg_embed(const Bytes& j_in, const StoreMaker& make) {
  Bytes j = jpeg_strip(j_in);
  size_t at = 2;
  auto segs = jpeg_segments(j);
  if (!segs.empty() && segs[0].marker == 0xE0) at = segs[0].offset + segs[0].size;  // after JFIF
  return embed_at(j, at, make, app11_segments);
}

}  // namespace kinema::c2pa
