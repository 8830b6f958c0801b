// Weights files opened once, read with pread or mapped (see mapped_file.hpp).
#include "core/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "kinema/error.hpp"

namespace kinema {

MappedFile::~MappedFile() {
  if (addr_) ::munmap(addr_, size_t(size_));
}

ReadOnlyFile ReadOnlyFile::open(const std::string& path, const char* where) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  KINEMA_CHECK(fd >= 0, where, "cannot open ", path, " (", std::strerror(errno), ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(where, path, " is not a regular file");
  }
  return ReadOnlyFile(fd, uint64_t(st.st_size), path, where);
}

ReadOnlyFile::ReadOnlyFile(ReadOnlyFile&& o) noexcept
    : fd_(o.fd_), size_(o.size_), path_(std::move(o.path_)), where_(o.where_) {
  o.fd_ = -1;
}

ReadOnlyFile::~ReadOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ReadOnlyFile::read(uint64_t offset, void* dst, uint64_t n) const {
  auto* p = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const size_t chunk = size_t(std::min<uint64_t>(n, uint64_t(1) << 30));
    const ssize_t got = ::pread(fd_, p, chunk, off_t(offset));
    if (got < 0 && errno == EINTR) continue;
    KINEMA_CHECK(got >= 0, where_, path_, ": read error at byte ", offset, " (", std::strerror(errno), ")");
    KINEMA_CHECK(got > 0, where_, path_, " ends at byte ", offset, " but its header (checked against ", size_,
                 " bytes) needs more; was it truncated while loading? Load it again once it is complete");
    p += got, offset += uint64_t(got), n -= uint64_t(got);
  }
}

std::shared_ptr<MappedFile> ReadOnlyFile::map() const {
  if (size_ == 0) return std::make_shared<MappedFile>(nullptr, 0);
  void* addr = ::mmap(nullptr, size_t(size_), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_, 0);
  KINEMA_CHECK(addr != MAP_FAILED, where_, "cannot map ", path_, " (", std::strerror(errno),
               "); load it with TensorMemory::read instead");
  auto mapped = std::make_shared<MappedFile>(addr, size_);
  // The header was checked against size_: a file shorter now would fault (SIGBUS) on the pages
  // past its end, so it is refused here instead.
  struct stat st {};
  KINEMA_CHECK(::fstat(fd_, &st) == 0 && uint64_t(st.st_size) >= size_, where_, path_, " is ",
               uint64_t(st.st_size), " bytes now but was ", size_,
               " when its header was checked; it changed while loading (load it again once it is complete)");
  return mapped;
}

size_t element_alignment(DType dtype) {
  return is_quantized(dtype) ? 2 : block_bytes(dtype);
}

Tensor mapped_tensor(const std::shared_ptr<MappedFile>& file, uint64_t offset, const Shape& shape, DType dtype) {
  const uint64_t nbytes = uint64_t(shape_numel(shape) / block_elems(dtype)) * block_bytes(dtype);
  assert(offset <= file->size() && nbytes <= file->size() - offset);
  uint8_t* data = file->data() + offset;
  if (reinterpret_cast<uintptr_t>(data) % element_alignment(dtype) != 0) return Tensor();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, size_t(nbytes), file);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

void release_mapped_pages(const Tensor& t) {
  if (!t.defined() || !t.storage() || !t.storage()->is_mapped()) return;
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t.storage()->data());
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + t.storage()->nbytes()) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), size_t(last - first), MADV_DONTNEED);
}

}  // namespace kinema
