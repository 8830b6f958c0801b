// MP4 (ISO BMFF) embedding: a top-level C2PA uuid box right after ftyp, hashed with
// c2pa.hash.bmff.v3 over the final layout. Media data is streamed, never loaded whole.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/c2pa/containers.hpp"
#include "io/c2pa/manifest.hpp"
#include "kinema/error.hpp"

namespace kinema::c2pa {
namespace {

constexpr uint64_t kMaxMoov = uint64_t(1) << 30;

std::ifstream open_in(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  check(f.good(), "c2pa mp4", "cannot open '", path, "'");
  return f;
}

Bytes read_range(std::ifstream& f, uint64_t off, uint64_t n, const std::string& path) {
  Bytes b(static_cast<size_t>(n));
  f.clear();
  f.seekg(std::streamoff(off));
  f.read(reinterpret_cast<char*>(b.data()), std::streamsize(n));
  check(f.gcount() == std::streamsize(n), "c2pa mp4", "'", path, "' is truncated at byte ", off + f.gcount());
  return b;
}

// Feeds [off, off+n) of f to sink in 1 MiB pieces.
template <typename Sink>
void stream_range(std::ifstream& f, uint64_t off, uint64_t n, const std::string& path, Sink&& sink) {
  std::vector<uint8_t> buf(1 << 20);
  f.clear();
  f.seekg(std::streamoff(off));
  while (n > 0) {
    size_t take = size_t(std::min<uint64_t>(n, buf.size()));
    f.read(reinterpret_cast<char*>(buf.data()), std::streamsize(take));
    check(f.gcount() == std::streamsize(take), "c2pa mp4", "'", path, "' is truncated");
    sink(buf.data(), take);
    n -= take;
  }
}

// Adds shift(old offset) to every stco/co64 entry under moov (trak/mdia/minf/stbl).
void patch_offsets(uint8_t* p, uint64_t size, const std::function<uint64_t(uint64_t)>& map, int depth) {
  check(depth < 12, "c2pa mp4", "boxes nested too deep");
  uint64_t pos = 0;
  while (pos + 8 <= size) {
    uint64_t len = get_be(p + pos, 4), hdr = 8;
    if (len == 1) {
      check(pos + 16 <= size, "c2pa mp4", "truncated large box header in moov");
      len = get_be(p + pos + 8, 8), hdr = 16;
    }
    if (len == 0) len = size - pos;
    check(len >= hdr && len <= size - pos, "c2pa mp4", "box in moov overruns its parent");
    std::string type(reinterpret_cast<const char*>(p + pos + 4), 4);
    uint8_t* body = p + pos + hdr;
    uint64_t body_len = len - hdr;
    if (type == "trak" || type == "mdia" || type == "minf" || type == "stbl") {
      patch_offsets(body, body_len, map, depth + 1);
    } else if (type == "stco" || type == "co64") {
      int w = type == "stco" ? 4 : 8;
      check(body_len >= 8, "c2pa mp4", type, " box is truncated");
      uint64_t count = get_be(body + 4, 4);
      check(count <= (body_len - 8) / uint64_t(w), "c2pa mp4", type, " declares ", count, " entries; box holds fewer");
      for (uint64_t i = 0; i < count; ++i) {
        uint8_t* e = body + 8 + i * w;
        uint64_t moved = map(get_be(e, w));
        check(w == 8 || moved <= 0xffffffffu, "c2pa mp4", "chunk offset ", moved, " no longer fits stco");
        set_be(e, moved, w);
      }
    }
    pos += len;
  }
}

Bytes uuid_box(const Bytes& store) {
  Bytes b;
  uint64_t size = 8 + 16 + 4 + 9 + 8 + store.size();
  put_be(b, size, 4);
  append(b, std::string("uuid"));
  b.insert(b.end(), kC2paUuid, kC2paUuid + 16);
  put_be(b, 0, 4);  // version 0, flags 0
  append(b, std::string("manifest"));
  b.push_back(0);
  put_be(b, 0, 8);  // merkle box offset: none
  append(b, store);
  return b;
}

}  // namespace

std::vector<Mp4Box> mp4_top_boxes(const std::string& path) {
  std::error_code ec;
  uint64_t file_size = std::filesystem::file_size(path, ec);
  check(!ec, "c2pa mp4", "cannot stat '", path, "'");
  std::ifstream f = open_in(path);
  std::vector<Mp4Box> boxes;
  uint64_t pos = 0;
  while (pos + 8 <= file_size) {
    Bytes h = read_range(f, pos, std::min<uint64_t>(32, file_size - pos), path);
    uint64_t len = get_be(h.data(), 4);
    if (len == 1) {
      check(h.size() >= 16, "c2pa mp4", "'", path, "' has a truncated box header at ", pos);
      len = get_be(h.data() + 8, 8);
    } else if (len == 0) {
      len = file_size - pos;
    }
    check(len >= 8 && len <= file_size - pos, "c2pa mp4", "'", path, "' has a box at byte ", pos,
          " with bad size ", len, "; file is ", file_size, " bytes");
    Mp4Box b{std::string(reinterpret_cast<const char*>(h.data() + 4), 4), pos, len, {}};
    uint64_t hdr = get_be(h.data(), 4) == 1 ? 16 : 8;
    if (b.type == "uuid" && h.size() >= hdr + 16) b.uuid.assign(h.begin() + long(hdr), h.begin() + long(hdr + 16));
    boxes.push_back(std::move(b));
    pos += len;
  }
  check(!boxes.empty() && boxes[0].type == "ftyp", "c2pa mp4", "'", path, "' does not start with an ftyp box");
  return boxes;
}

bool is_c2pa_uuid(const Mp4Box& b) {
  return b.type == "uuid" && b.uuid.size() == 16 && std::memcmp(b.uuid.data(), kC2paUuid, 16) == 0;
}

std::optional<FoundStore> mp4_find_store(const std::string& path) {
  for (const Mp4Box& b : mp4_top_boxes(path)) {
    if (!is_c2pa_uuid(b)) continue;
    constexpr uint64_t kPrefix = 8 + 16 + 4;
    check(b.size >= kPrefix + 9 + 8, "c2pa mp4", "C2PA uuid box at ", b.offset, " is truncated");
    std::ifstream f = open_in(path);
    Bytes body = read_range(f, b.offset + kPrefix, b.size - kPrefix, path);
    size_t nul = 0;
    while (nul < body.size() && body[nul] != 0) ++nul;
    check(nul < body.size() && std::string(body.begin(), body.begin() + long(nul)) == "manifest",
          "c2pa mp4", "C2PA uuid box at ", b.offset, " is not a manifest box");
    size_t start = nul + 1 + 8;
    check(start <= body.size(), "c2pa mp4", "C2PA uuid box at ", b.offset, " is truncated");
    return FoundStore{Bytes(body.begin() + long(start), body.end()), b.offset, b.size};
  }
  return std::nullopt;
}

Bytes bmff_hash(const std::string& path, const std::vector<BmffExclusion>& exclusions) {
  std::ifstream f = open_in(path);
  Sha256 h;
  for (const Mp4Box& b : mp4_top_boxes(path)) {
    bool excluded = false;
    for (const BmffExclusion& e : exclusions) {
      if (e.type != b.type) continue;
      bool all = true;
      for (const auto& [off, want] : e.data) {
        if (off + want.size() > b.size) { all = false; break; }
        if (read_range(f, b.offset + off, want.size(), path) != want) all = false;
      }
      if (all) excluded = true;
    }
    if (excluded) continue;
    Bytes off;
    put_be(off, b.offset, 8);
    h.update(off);
    stream_range(f, b.offset, b.size, path, [&](const uint8_t* p, size_t n) { h.update(p, n); });
  }
  return h.finish();
}

namespace {

// One rewrite of an MP4: the boxes kept (every top-level box but C2PA uuid boxes), moov in
// memory, and the final layout ftyp, [uuid], rest for a uuid box of a given size.
struct Mp4Rewrite {
  std::string path;
  std::vector<Mp4Box> kept;
  size_t moov_index = 0;
  Bytes moov;
  std::ifstream in;

  explicit Mp4Rewrite(const std::string& p) : path(p) {
    for (const Mp4Box& b : mp4_top_boxes(path))
      if (!is_c2pa_uuid(b)) kept.push_back(b);
    bool found = false;
    for (size_t i = 0; i < kept.size(); ++i)
      if (kept[i].type == "moov") moov_index = i, found = true;
    check(found, "c2pa mp4", "'", path, "' has no moov box");
    check(kept[moov_index].size < kMaxMoov, "c2pa mp4", "moov of '", path, "' is too large: ",
          kept[moov_index].size, " bytes");
    in = open_in(path);
    moov = read_range(in, kept[moov_index].offset, kept[moov_index].size, path);
  }

  std::vector<uint64_t> layout(uint64_t inserted) const {
    std::vector<uint64_t> at(kept.size());
    uint64_t pos = 0;
    for (size_t i = 0; i < kept.size(); ++i) {
      at[i] = pos;
      pos += kept[i].size + (i == 0 ? inserted : 0);
    }
    return at;
  }

  // moov with every chunk offset moved to where its bytes land in the layout.
  Bytes patched_moov(const std::vector<uint64_t>& at) const {
    Bytes m = moov;
    uint64_t hdr = get_be(m.data(), 4) == 1 ? 16 : 8;
    patch_offsets(m.data() + hdr, m.size() - hdr, [&](uint64_t old) -> uint64_t {
      for (size_t i = 0; i < kept.size(); ++i)
        if (old >= kept[i].offset && old < kept[i].offset + kept[i].size) return old - kept[i].offset + at[i];
      fail("c2pa mp4", "chunk offset ", old, " of '", path, "' points outside every box");
    }, 0);
    return m;
  }

  // bmff v3 hash of the final layout: u64be(offset) ‖ box for every kept box but ftyp and mfra.
  Bytes hash_for(uint64_t inserted) {
    std::vector<uint64_t> at = layout(inserted);
    Bytes m = patched_moov(at);
    Sha256 h;
    for (size_t i = 0; i < kept.size(); ++i) {
      if (kept[i].type == "ftyp" || kept[i].type == "mfra") continue;
      Bytes off;
      put_be(off, at[i], 8);
      h.update(off);
      if (i == moov_index) h.update(m);
      else stream_range(in, kept[i].offset, kept[i].size, path, [&](const uint8_t* p, size_t n) { h.update(p, n); });
    }
    return h.finish();
  }

  // The uuid box: one pass with a placeholder hash fixes its size (the hash is fixed-size),
  // the second pass hashes the layout that size implies.
  Bytes signed_uuid_box(const StoreMaker& make) {
    HardBinding b;
    b.kind = HardBinding::Kind::bmff;
    Bytes placeholder = uuid_box(make(b));
    b.hash = hash_for(placeholder.size());
    Bytes ubox = uuid_box(make(b));
    check(ubox.size() == placeholder.size(), "c2pa mp4", "manifest size changed between passes; got ",
          ubox.size(), ", expected ", placeholder.size());
    return ubox;
  }

  void write(const std::string& out_path, const Bytes& ubox) {
    Bytes moov_new = patched_moov(layout(ubox.size()));
    std::string tmp = out_path + ".kinema-tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      check(out.good(), "c2pa mp4", "cannot create '", tmp, "'");
      auto put = [&](const uint8_t* p, size_t n) { out.write(reinterpret_cast<const char*>(p), std::streamsize(n)); };
      for (size_t i = 0; i < kept.size(); ++i) {
        if (i == moov_index) put(moov_new.data(), moov_new.size());
        else stream_range(in, kept[i].offset, kept[i].size, path, put);
        if (i == 0) put(ubox.data(), ubox.size());
      }
      out.flush();
      check(out.good(), "c2pa mp4", "cannot write '", tmp, "' (disk full?)");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, out_path, ec);
    check(!ec, "c2pa mp4", "cannot replace '", out_path, "': ", ec.message());
  }
};

}  // namespace

void mp4_rewrite(const std::string& in_path, const std::string& out_path, const StoreMaker* make) {
  Mp4Rewrite rw(in_path);
  rw.write(out_path, make ? rw.signed_uuid_box(*make) : Bytes{});
}

}  // namespace kinema::c2pa
