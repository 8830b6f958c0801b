// Weights files read in place: a file opened once (its size fixed at open, every header check
// made against it) and either read with pread or mapped whole into memory, tensors then pointing
// into the mapping (docs/weights.md, "Memory-mapped weights").
//
// The mapping is private and writable (MAP_PRIVATE, PROT_READ | PROT_WRITE): a page kinema writes
// (an optimizer step on a loaded weight) is copied first, so nothing ever reaches the file, and a
// page only read costs page cache, not the process's own memory. Every tensor on mapped storage
// holds the mapping (shared ownership), so it is unmapped when the last of them is gone.
//
// Caveat (as for every mmap reader): the mapping shows the file as it is on disk. kinema's
// writers replace files atomically (write NAME.tmp, rename), which leaves a mapping on the old
// file intact; but a file truncated or rewritten in place by another program while a model built
// from it is loaded is undefined (reads past a truncation fault with SIGBUS).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "kinema/tensor.hpp"

namespace kinema {

class MappedFile {
 public:
  MappedFile(void* addr, uint64_t size) : addr_(addr), size_(size) {}
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
  uint64_t size() const { return size_; }

 private:
  void* addr_ = nullptr;
  uint64_t size_ = 0;
};

class ReadOnlyFile {
 public:
  // Error names the path (and `where`) when it cannot be opened or is not a regular file.
  static ReadOnlyFile open(const std::string& path, const char* where);
  ReadOnlyFile(ReadOnlyFile&& o) noexcept;
  ReadOnlyFile& operator=(ReadOnlyFile&&) = delete;
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ~ReadOnlyFile();

  uint64_t size() const { return size_; }  // at open: what headers are checked against
  const std::string& path() const { return path_; }
  // Exactly n bytes at offset; Error when the file ends first (it shrank since open).
  void read(uint64_t offset, void* dst, uint64_t n) const;
  // The whole file (size() bytes), mapped; Error when it is no longer size() bytes long, so a
  // file truncated after its header was checked is refused before anything maps past its end.
  std::shared_ptr<MappedFile> map() const;

 private:
  ReadOnlyFile(int fd, uint64_t size, std::string path, const char* where)
      : fd_(fd), size_(size), path_(std::move(path)), where_(where) {}
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
  const char* where_;
};

// Element alignment a tensor's first byte needs for the kernels that read it: the element size
// (4 for f32, 2 for bf16/f16) and 2 for q8_0/q4_0 blocks (their f16 scales). Kernels load with
// unaligned SIMD loads (hn::LoadU) and oneDNN takes any address, so storage need not be
// 64-byte aligned as the allocator's is.
size_t element_alignment(DType dtype);

// A contiguous tensor over bytes [offset, offset + nbytes of shape/dtype) of the mapping, which
// it keeps alive; undefined when that address is not element-aligned (the caller then copies).
// The range must lie inside the mapping (callers validate headers first).
Tensor mapped_tensor(const std::shared_ptr<MappedFile>& file, uint64_t offset, const Shape& shape, DType dtype);

// Drops the process's resident pages of t's bytes in its mapping (the whole pages inside them;
// madvise MADV_DONTNEED), so memory read once (a weight converted on load) stops counting
// against the process; the page cache keeps them and a later read faults them back in from the
// file. Does nothing for a tensor that is not on mapped storage. Only for tensors whose pages
// were never written (a written page is a private copy, and dropping it loses the writes).
void release_mapped_pages(const Tensor& t);

}  // namespace kinema
