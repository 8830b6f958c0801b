// Context: everything an op needs besides its tensors — thread count, the kernel switch
// (fast or reference), the allocator's pool and the oneDNN engine with its plan cache.
// There is no hidden global: a default context exists per process, and ContextScope makes
// another one current for the calling thread (as mlx does with its default stream).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace kinema {

// How linear multiplies activations by q8_0 / q4_0 weights.
enum class QuantizedLinear : uint8_t {
  // The activations quantized on the fly into int8 blocks of 32 and integer dot products, as
  // ggml does (AVX512-VNNI; elsewhere `dequantize`): about 2x the f32 GEMM's speed, and an
  // approximation of x @ dequantize(w)^T (normalised MSE near 1.5e-5 on random activations;
  // each output within the activations' rounding, tests/ops/test_quant_linear_int8.cpp).
  int8,
  // The weight dequantized to f32 panel by panel and an f32 GEMM: x @ dequantize(w)^T to f32
  // rounding. Parity tests that compare against PyTorch at 1e-4 need this.
  dequantize,
};

struct ContextOptions {
  int threads = 0;                     // 0 = OMP_NUM_THREADS if set, else all cores
  bool reference_kernels = false;      // run every op on its naive reference kernel
  size_t pool_limit_bytes = size_t(4) << 30;  // freed buffers kept for reuse, at most
  // The environment variable KINEMA_QUANT_LINEAR=int8|dequantize, when set, overrides this.
  QuantizedLinear quantized_linear = QuantizedLinear::int8;
};

struct ContextStats {
  uint64_t plan_hits = 0, plan_misses = 0;  // oneDNN primitive cache
  uint64_t slow_fallbacks = 0;              // bf16 convolutions oneDNN refused, run in f32
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
  QuantizedLinear quantized_linear() const { return quantized_linear_; }
  void set_quantized_linear(QuantizedLinear mode) { quantized_linear_ = mode; }
  ContextStats stats() const;

  struct Impl;  // allocator pool, oneDNN engine/stream and plan cache (backend-private)
  Impl& impl() { return *impl_; }

 private:
  int threads_ = 1;
  bool reference_kernels_ = false;
  QuantizedLinear quantized_linear_ = QuantizedLinear::int8;
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

// Runs linear on quantized weights by `mode` in the scope (tests that need the exact path).
class QuantizedLinearScope {
 public:
  explicit QuantizedLinearScope(QuantizedLinear mode) : saved_(current_context().quantized_linear()) {
    current_context().set_quantized_linear(mode);
  }
  ~QuantizedLinearScope() { current_context().set_quantized_linear(saved_); }
  QuantizedLinearScope(const QuantizedLinearScope&) = delete;
  QuantizedLinearScope& operator=(const QuantizedLinearScope&) = delete;

 private:
  QuantizedLinear saved_;
};

}  // namespace kinema
