#include "core/pool.hpp"

#include <bit>
#include <cstdlib>
#include <new>

#include "kinema/error.hpp"

namespace kinema {

size_t Pool::round_size(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  if (nbytes <= 4096) return (nbytes + 63) & ~size_t(63);
  size_t top = std::bit_floor(nbytes);
  size_t step = top / 8;
  return (nbytes + step - 1) / step * step;
}

uint8_t* Pool::allocate(size_t nbytes, size_t* rounded) {
  size_t size = round_size(nbytes);
  *rounded = size;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      uint8_t* p = it->second.back();
      it->second.pop_back();
      cached_ -= size;
      ++hits_;
      return p;
    }
    ++misses_;
  }
  void* p = std::aligned_alloc(64, size);
  if (!p) {
    trim();  // give cached blocks back to the system and try once more
    p = std::aligned_alloc(64, size);
  }
  if (!p)
    fail("alloc", "out of memory allocating ", nbytes, " bytes (", double(nbytes) / (1 << 30),
         " GiB); reduce the size, frames or batch");
  return static_cast<uint8_t*>(p);
}

void Pool::release(uint8_t* p, size_t rounded) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cached_ + rounded > limit_) {
    std::free(p);
    return;
  }
  free_[rounded].push_back(p);
  cached_ += rounded;
}

void Pool::trim() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [size, blocks] : free_)
    for (uint8_t* p : blocks) std::free(p);
  free_.clear();
  cached_ = 0;
}

Pool::~Pool() { trim(); }

}  // namespace kinema
