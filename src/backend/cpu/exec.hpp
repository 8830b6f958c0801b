// Shape-generic drivers that run the CPU kernels over strided tensors: they broadcast,
// collapse contiguous dimensions, split the work over the context's threads and widen
// 16-bit dtypes to f32 rows for the kernels.
#pragma once
#include "backend/cpu/kernels.hpp"
#include "kinema/tensor.hpp"

namespace kinema {

DType promote(DType a, DType b);
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Strides that read `t` as if it had shape `shape` (t's shape must broadcast to it).
Shape broadcast_strides(const Tensor& t, const Shape& shape);

Tensor run_binary(BinaryOp op, const Tensor& a, const Tensor& b, const char* name);
Tensor run_unary(UnaryOp op, const Tensor& x, float p = 0.f);
// Copies src (any layout, non-quantized) into dst (contiguous, same shape), converting dtype.
void copy_into(const Tensor& src, const Tensor& dst);

// Runs fn(begin, end) over [0, n) split across the current context's threads.
template <typename F>
void parallel_for(int64_t n, int64_t min_chunk, F fn);

}  // namespace kinema

#include <omp.h>

#include <algorithm>

#include "core/denormals.hpp"
#include "kinema/context.hpp"

namespace kinema {
template <typename F>
void parallel_for(int64_t n, int64_t min_chunk, F fn) {
  int threads = current_context().threads();
  int64_t chunks = std::min<int64_t>(threads, std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk)));
  if (chunks <= 1) {
    flush_denormals_on_this_thread();
    if (n > 0) fn(int64_t(0), n);
    return;
  }
#pragma omp parallel for num_threads(int(chunks)) schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    flush_denormals_on_this_thread();
    int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    if (b < e) fn(b, e);
  }
}
}  // namespace kinema
