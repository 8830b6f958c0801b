// Context: everything an op needs besides its tensors — thread count, the kernel switch
// (fast or reference), the allocator's pool and the oneDNN engine with its plan cache.
// There is no hidden global: a default context exists per process, and ContextScope makes
// another one current for the calling thread (as mlx does with its default stream).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace kinema {

struct ContextOptions {
  int threads = 0;                     // 0 = OMP_NUM_THREADS if set, else all cores
  bool reference_kernels = false;      // run every op on its naive reference kernel
  size_t pool_limit_bytes = size_t(4) << 30;  // freed buffers kept for reuse, at most
};

struct ContextStats {
  uint64_t plan_hits = 0, plan_misses = 0;  // oneDNN primitive cache
  uint64_t pool_hits = 0, pool_misses = 0;  // allocator
  size_t pool_bytes = 0;                    // bytes held for reuse now
};

class Context {
 public:
  explicit Context(const ContextOptions& options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int threads() const { return threads_; }
  void set_threads(int n);
  bool reference_kernels() const { return reference_kernels_; }
  void set_reference_kernels(bool on) { reference_kernels_ = on; }
  ContextStats stats() const;

  struct Impl;  // allocator pool, oneDNN engine/stream and plan cache (backend-private)
  Impl& impl() { return *impl_; }

 private:
  int threads_ = 1;
  bool reference_kernels_ = false;
  std::unique_ptr<Impl> impl_;
};

Context& current_context();

// Makes `ctx` current on this thread until the scope ends.
class ContextScope {
 public:
  explicit ContextScope(Context& ctx);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  Context* previous_;
};

// Runs everything in the scope on reference kernels (tests compare the two).
class ReferenceKernelsScope {
 public:
  ReferenceKernelsScope() : saved_(current_context().reference_kernels()) {
    current_context().set_reference_kernels(true);
  }
  ~ReferenceKernelsScope() { current_context().set_reference_kernels(saved_); }

 private:
  bool saved_;
};

}  // namespace kinema
