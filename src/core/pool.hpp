// A caching allocator: freed buffers are kept in per-size free lists and handed out again,
// so a training or sampling step reuses the previous step's activation memory instead of
// faulting in fresh pages. Sizes are rounded up to 64 B under 4 KiB and to 1/8 of their power
// of two above, which bounds waste at 12.5%.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

namespace kinema {

class Pool {
 public:
  explicit Pool(size_t limit_bytes) : limit_(limit_bytes) {}
  ~Pool();
  uint8_t* allocate(size_t nbytes, size_t* rounded);
  void release(uint8_t* p, size_t rounded);
  void trim();  // frees every cached block
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  size_t cached_bytes() const { return cached_; }
  void set_limit(size_t bytes) { limit_ = bytes; }

  static size_t round_size(size_t nbytes);

 private:
  std::mutex mu_;
  std::map<size_t, std::vector<uint8_t*>> free_;
  size_t limit_ = 0, cached_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace kinema
