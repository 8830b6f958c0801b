// Row reductions and softmax with Highway: four vector accumulators per row hide FMA latency.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/reduce_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include <cmath>
#include <limits>

#include "backend/cpu/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

HWY_INLINE float RowSum(const float* x, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a0 = hn::Add(a0, hn::LoadU(d, x + i));
    a1 = hn::Add(a1, hn::LoadU(d, x + i + N));
    a2 = hn::Add(a2, hn::LoadU(d, x + i + 2 * N));
    a3 = hn::Add(a3, hn::LoadU(d, x + i + 3 * N));
  }
  for (; i + N <= n; i += N) a0 = hn::Add(a0, hn::LoadU(d, x + i));
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (; i < n; ++i) s += x[i];
  return s;
}

HWY_INLINE float RowMax(const float* x, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto m = hn::Set(d, -std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + N <= n; i += N) m = hn::Max(m, hn::LoadU(d, x + i));
  float r = hn::GetLane(hn::MaxOfLanes(d, m));
  for (; i < n; ++i) r = std::fmax(r, x[i]);
  return r;
}

void SumRows(const float* x, int64_t rows, int64_t len, float* out) {
  for (int64_t r = 0; r < rows; ++r) out[r] = RowSum(x + r * len, len);
}

void SumCols(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t j = 0;
  for (; j + N <= cols; j += N) {
    auto acc = hn::Zero(d);
    for (int64_t r = 0; r < rows; ++r) acc = hn::Add(acc, hn::LoadU(d, x + r * ld + j));
    hn::StoreU(acc, d, out + j);
  }
  for (; j < cols; ++j) {
    float s = 0;
    for (int64_t r = 0; r < rows; ++r) s += x[r * ld + j];
    out[j] = s;
  }
}

void MaxRows(const float* x, int64_t rows, int64_t len, float* out) {
  for (int64_t r = 0; r < rows; ++r) out[r] = RowMax(x + r * len, len);
}

void SoftmaxRows(const float* x, float* y, int64_t rows, int64_t len, bool log) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const int64_t N = int64_t(hn::Lanes(d));
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * len;
    float* yr = y + r * len;
    const float m = RowMax(xr, len);
    int64_t i = 0;
    for (; i + N <= len; i += N)
      hn::StoreU(hn::Exp(d, hn::Sub(hn::LoadU(d, xr + i), hn::Set(d, m))), d, yr + i);
    for (; i < len; ++i)
      hn::StoreU(hn::Exp(d1, hn::Sub(hn::LoadU(d1, xr + i), hn::Set(d1, m))), d1, yr + i);
    const float s = RowSum(yr, len);
    if (log) {
      const float shift = m + std::log(s);
      for (int64_t j = 0; j < len; ++j) yr[j] = xr[j] - shift;
    } else {
      const float inv = 1.f / s;
      for (int64_t j = 0; j < len; ++j) yr[j] *= inv;
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(SumRows);
HWY_EXPORT(SumCols);
HWY_EXPORT(MaxRows);
HWY_EXPORT(SoftmaxRows);
void sum_rows_f32(const float* x, int64_t rows, int64_t len, float* out) {
  HWY_DYNAMIC_DISPATCH(SumRows)(x, rows, len, out);
}
void sum_cols_f32(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out) {
  HWY_DYNAMIC_DISPATCH(SumCols)(x, rows, cols, ld, out);
}
void max_rows_f32(const float* x, int64_t rows, int64_t len, float* out) {
  HWY_DYNAMIC_DISPATCH(MaxRows)(x, rows, len, out);
}
void softmax_rows_f32(const float* x, float* y, int64_t rows, int64_t len, bool log) {
  HWY_DYNAMIC_DISPATCH(SoftmaxRows)(x, y, rows, len, log);
}
}  // namespace kinema
#endif
