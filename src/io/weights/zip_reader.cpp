#include "io/weights/zip_reader.hpp"

#include <algorithm>
#include <cstring>

#include "kinema/error.hpp"

namespace kinema::zip {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50,
                   kEnd64Sig = 0x06064b50, kLocator64Sig = 0x07064b50;
constexpr size_t kEndSize = 22, kLocator64Size = 20, kEnd64Size = 56, kCentralSize = 46,
                 kLocalSize = 30;
constexpr uint64_t kMaxCentral = 1ull << 30;  // 1 GiB of directory: ~10M entries, far past any model

uint64_t le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

struct EndRecord {
  uint64_t entries = 0, cd_size = 0, cd_offset = 0, end_offset = 0;
};

// The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
EndRecord find_end(const ByteSource& src) {
  const uint64_t size = src.size();
  const std::string& where = src.name();
  KINEMA_CHECK(size >= kEndSize, "zip", where, " is ", size,
               " bytes: too short for a zip archive (needs at least 22)");
  size_t tail = size_t(std::min<uint64_t>(size, kEndSize + 65535));
  std::vector<uint8_t> buf(tail);
  src.read(size - tail, buf.data(), tail);
  for (size_t i = tail - kEndSize + 1; i-- > 0;) {
    if (le(&buf[i], 4) != kEndSig) continue;
    const uint8_t* p = &buf[i];
    EndRecord r;
    r.end_offset = size - tail + i;
    r.entries = le(p + 10, 2);
    r.cd_size = le(p + 12, 4);
    r.cd_offset = le(p + 16, 4);
    // zip64: a locator right before the record points at the 64-bit end record.
    if (r.end_offset >= kLocator64Size) {
      uint8_t loc[kLocator64Size];
      src.read(r.end_offset - kLocator64Size, loc, kLocator64Size);
      if (le(loc, 4) == kLocator64Sig) {
        uint64_t off = le(loc + 8, 8);
        KINEMA_CHECK(off <= r.end_offset - kLocator64Size &&
                         r.end_offset - kLocator64Size - off >= kEnd64Size,
                     "zip", where, ": the zip64 end record offset ", off,
                     " is outside the archive (", size, " bytes)");
        uint8_t e64[kEnd64Size];
        src.read(off, e64, kEnd64Size);
        KINEMA_CHECK(le(e64, 4) == kEnd64Sig, "zip", where,
                     ": no zip64 end record where the locator points (offset ", off, ")");
        r.entries = le(e64 + 32, 8);
        r.cd_size = le(e64 + 40, 8);
        r.cd_offset = le(e64 + 48, 8);
        r.end_offset = off;
        return r;
      }
    }
    KINEMA_CHECK(r.entries != 0xffff && r.cd_size != 0xffffffffu && r.cd_offset != 0xffffffffu,
                 "zip", where, ": the end record defers to zip64 but there is no zip64 locator");
    return r;
  }
  fail("zip", where, ": no end-of-central-directory record; the file is not a zip archive or "
       "is truncated (", size, " bytes)");
}

// Fields of a central entry that zip64 may move into the extra field (id 1).
struct Sizes {
  uint64_t size, csize, local;
};

void apply_zip64_extra(const uint8_t* extra, size_t n, Sizes& s, const std::string& where,
                       const std::string& name) {
  const uint32_t kMax = 0xffffffffu;
  size_t i = 0;
  while (i + 4 <= n) {
    uint64_t id = le(extra + i, 2), len = le(extra + i + 2, 2);
    KINEMA_CHECK(i + 4 + len <= n, "zip", where, ": entry '", name, "' has a malformed extra field");
    if (id == 1) {
      const uint8_t* p = extra + i + 4;
      size_t at = 0;
      for (uint64_t* field : {&s.size, &s.csize, &s.local}) {
        if (*field != kMax) continue;
        KINEMA_CHECK(at + 8 <= len, "zip", where, ": entry '", name,
                     "' has a zip64 extra field too short for its sizes");
        *field = le(p + at, 8);
        at += 8;
      }
      return;
    }
    i += 4 + len;
  }
  KINEMA_CHECK(s.size != kMax && s.csize != kMax && s.local != kMax, "zip", where, ": entry '",
               name, "' defers its sizes to zip64 but has no zip64 extra field");
}

}  // namespace

FileSource::FileSource(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "rb");
  KINEMA_CHECK(f_ != nullptr, "zip", "cannot open ", path);
  if (std::fseek(f_, 0, SEEK_END) != 0) {
    std::fclose(f_);
    fail("zip", "cannot seek in ", path, " (not a regular file?)");
  }
  long end = std::ftell(f_);
  if (end < 0) {
    std::fclose(f_);
    fail("zip", "cannot size ", path);
  }
  size_ = uint64_t(end);
}

FileSource::~FileSource() {
  if (f_) std::fclose(f_);
}

void FileSource::read(uint64_t offset, void* dst, size_t n) const {
  KINEMA_CHECK(offset <= size_ && n <= size_ - offset, "zip", path_, ": read of ", n,
               " bytes at ", offset, " is past the end (", size_, " bytes)");
  KINEMA_CHECK(std::fseek(f_, long(offset), SEEK_SET) == 0 && std::fread(dst, 1, n, f_) == n,
               "zip", path_, ": read of ", n, " bytes at offset ", offset, " failed");
}

void MemorySource::read(uint64_t offset, void* dst, size_t n) const {
  KINEMA_CHECK(offset <= size_ && n <= size_ - offset, "zip", name_, ": read of ", n,
               " bytes at ", offset, " is past the end (", size_, " bytes)");
  if (n) std::memcpy(dst, data_ + offset, n);
}

bool looks_like_zip(const uint8_t* head, size_t n) { return n >= 4 && le(head, 4) == kLocalSig; }

Archive::Archive(const ByteSource& source) : source_(source) {
  const std::string& where = source.name();
  const uint64_t size = source.size();
  EndRecord end = find_end(source);
  KINEMA_CHECK(end.cd_offset <= end.end_offset && end.cd_size <= end.end_offset - end.cd_offset,
               "zip", where, ": the central directory (offset ", end.cd_offset, ", ", end.cd_size,
               " bytes) lies past its end record at ", end.end_offset, " (file of ", size,
               " bytes; truncated?)");
  KINEMA_CHECK(end.cd_size <= kMaxCentral, "zip", where, ": central directory of ", end.cd_size,
               " bytes is implausibly large (limit ", kMaxCentral, ")");
  KINEMA_CHECK(end.entries <= end.cd_size / kCentralSize, "zip", where, ": ", end.entries,
               " entries cannot fit in a central directory of ", end.cd_size, " bytes");
  std::vector<uint8_t> cd(size_t(end.cd_size));
  source.read(end.cd_offset, cd.data(), cd.size());
  size_t pos = 0;
  for (uint64_t k = 0; k < end.entries; ++k) {
    KINEMA_CHECK(pos + kCentralSize <= cd.size() && le(&cd[pos], 4) == kCentralSig, "zip", where,
                 ": central directory entry ", k, " of ", end.entries, " is malformed");
    const uint8_t* p = &cd[pos];
    uint64_t flags = le(p + 8, 2), method = le(p + 10, 2);
    size_t name_len = le(p + 28, 2), extra_len = le(p + 30, 2), comment_len = le(p + 32, 2);
    KINEMA_CHECK(pos + kCentralSize + name_len + extra_len + comment_len <= cd.size(), "zip",
                 where, ": central directory entry ", k, " runs past the directory");
    std::string name(reinterpret_cast<const char*>(p + kCentralSize), name_len);
    Sizes s{le(p + 24, 4), le(p + 20, 4), le(p + 42, 4)};
    apply_zip64_extra(p + kCentralSize + name_len, extra_len, s, where, name);
    pos += kCentralSize + name_len + extra_len + comment_len;

    KINEMA_CHECK(!(flags & 1), "zip", where, ": entry '", name, "' is encrypted");
    KINEMA_CHECK(method == 0, "zip", where, ": entry '", name, "' is compressed (method ", method,
                 method == 8 ? ", deflate" : "", "); torch.save writes stored entries, so this "
                 "archive was re-zipped by another tool: load and re-save it with torch.save");
    KINEMA_CHECK(s.csize == s.size, "zip", where, ": stored entry '", name, "' has compressed size ",
                 s.csize, " but size ", s.size);
    // The local header may carry a different extra field (torch pads data to 64 bytes there).
    KINEMA_CHECK(s.local <= end.cd_offset && end.cd_offset - s.local >= kLocalSize, "zip", where,
                 ": entry '", name, "' has its local header at ", s.local,
                 ", past the data area (which ends at ", end.cd_offset, ")");
    uint8_t local[kLocalSize];
    source.read(s.local, local, kLocalSize);
    KINEMA_CHECK(le(local, 4) == kLocalSig, "zip", where, ": entry '", name,
                 "' has no local header at offset ", s.local);
    uint64_t data = s.local + kLocalSize + le(local + 26, 2) + le(local + 28, 2);
    KINEMA_CHECK(data <= end.cd_offset && s.size <= end.cd_offset - data, "zip", where,
                 ": entry '", name, "' (", s.size, " bytes at offset ", data,
                 ") runs past the data area, which ends at ", end.cd_offset, " (truncated?)");
    Entry e{name, data, s.size};
    KINEMA_CHECK(entries_.emplace(name, e).second, "zip", where, ": entry '", name,
                 "' appears twice");
  }
}

const Entry* Archive::find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<uint8_t> Archive::read(const Entry& e, uint64_t max_bytes) const {
  KINEMA_CHECK(e.size <= max_bytes, "zip", source_.name(), ": entry '", e.name, "' is ", e.size,
               " bytes; expected at most ", max_bytes);
  std::vector<uint8_t> out(size_t(e.size));
  source_.read(e.data_offset, out.data(), out.size());
  return out;
}

}  // namespace kinema::zip
