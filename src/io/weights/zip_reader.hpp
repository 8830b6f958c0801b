// A reader for the zip archives torch.save writes (PyTorch's zip checkpoint container).
// torch writes every entry "stored" (method 0, uncompressed, data aligned to 64 bytes) and
// switches to zip64 records when an entry or the archive passes 4 GiB, so this reader needs no
// inflater: it parses the end-of-central-directory record (zip64 when present), validates every
// central entry and its local header against the archive size, and hands out byte ranges.
// Deflated entries (an archive re-zipped by another tool) are an Error that says how to fix it.
// No tensor types here: the libFuzzer target compiles this file on its own.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kinema::zip {

// Random access to the archive's bytes: a file or, for the fuzzer and tests, memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly n bytes at offset (offset + n <= size(), checked by the caller).
  virtual void read(uint64_t offset, void* dst, size_t n) const = 0;
  virtual const std::string& name() const = 0;  // for error messages
};

class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::string& path);
  ~FileSource() override;
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, void* dst, size_t n) const override;
  const std::string& name() const override { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t size_ = 0;
};

class MemorySource : public ByteSource {
 public:
  MemorySource(const uint8_t* data, size_t size, std::string name)
      : data_(data), size_(size), name_(std::move(name)) {}
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, void* dst, size_t n) const override;
  const std::string& name() const override { return name_; }

 private:
  const uint8_t* data_;
  size_t size_;
  std::string name_;
};

struct Entry {
  std::string name;
  uint64_t data_offset = 0;  // first byte of the entry's (stored) data in the archive
  uint64_t size = 0;         // its byte count
};

// The central directory of a zip archive, validated in full on construction.
class Archive {
 public:
  explicit Archive(const ByteSource& source);
  const Entry* find(const std::string& name) const;  // null when absent
  const std::map<std::string, Entry>& entries() const { return entries_; }
  // The entry's bytes; max_bytes guards callers that expect something small (a pickle).
  std::vector<uint8_t> read(const Entry& e, uint64_t max_bytes) const;
  const ByteSource& source() const { return source_; }

 private:
  const ByteSource& source_;
  std::map<std::string, Entry> entries_;
};

// True when the bytes start like a zip archive (a local file header "PK\3\4").
bool looks_like_zip(const uint8_t* head, size_t n);

}  // namespace kinema::zip
