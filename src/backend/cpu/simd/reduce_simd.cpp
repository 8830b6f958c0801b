// Row reductions and softmax with Highway: several vector accumulators per row hide the
// latency of each add.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/reduce_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/kernels.hpp"
#include "backend/cpu/simd/exp_nonpositive-inl.h"
#include "backend/cpu/simd/row_reduce-inl.h"
#include "backend/cpu/simd/store_row-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void SumRows(const float* x, int64_t rows, int64_t len, float* out) {
  for (int64_t r = 0; r < rows; ++r) out[r] = RowSum(x + r * len, len);
}

// Adds rows [0, rows) of x into acc [cols], four rows per pass over acc. Walking rows in
// order reads x contiguously; a column strip per vector instead would step a whole row per
// load, defeating the prefetchers and the TLB.
HWY_INLINE void AddRows(const float* x, int64_t rows, int64_t cols, int64_t ld, float* acc) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *x0 = x + r * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
    StoreRow(acc, cols, [&](auto dd, int64_t j) {
      const auto s01 = hn::Add(hn::LoadU(dd, x0 + j), hn::LoadU(dd, x1 + j));
      const auto s23 = hn::Add(hn::LoadU(dd, x2 + j), hn::LoadU(dd, x3 + j));
      return hn::Add(hn::LoadU(dd, acc + j), hn::Add(s01, s23));
    }, false);
  }
  for (; r < rows; ++r) {
    const float* xr = x + r * ld;
    StoreRow(acc, cols, [&](auto dd, int64_t j) {
      return hn::Add(hn::LoadU(dd, acc + j), hn::LoadU(dd, xr + j));
    }, false);
  }
}

// Columns go in blocks whose sums stay in L1 while every row streams through.
void SumCols(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out) {
  constexpr int64_t kBlock = 2048;  // floats: 8 KiB of sums
  for (int64_t j = 0; j < cols; j += kBlock) {
    const int64_t w = std::min(kBlock, cols - j);
    std::fill(out + j, out + j + w, 0.f);
    AddRows(x + j, rows, w, ld, out + j);
  }
}

void MaxRows(const float* x, int64_t rows, int64_t len, float* out) {
  for (int64_t r = 0; r < rows; ++r) out[r] = RowMax(x + r * len, len);
}

// e[i] = exp(x[i] - m) for i < n, m >= max x (not stored when e is null); returns the sum of e.
HWY_INLINE float ExpSum(const float* x, float m, float* e, int64_t n) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const int64_t N = int64_t(hn::Lanes(d));
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto e0 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i), hn::Set(d, m)));
    const auto e1 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i + N), hn::Set(d, m)));
    if (e) {
      hn::StoreU(e0, d, e + i);
      hn::StoreU(e1, d, e + i + N);
    }
    s0 = hn::Add(s0, e0);
    s1 = hn::Add(s1, e1);
  }
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) {
    const auto ei = ExpNonPositive(d1, hn::Sub(hn::LoadU(d1, x + i), hn::Set(d1, m)));
    if (e) hn::StoreU(ei, d1, e + i);
    s += hn::GetLane(ei);
  }
  return s;
}

// Three passes per row, the last two over data the first left in L1: max, exp and its sum,
// then the output. The exponentials go to a row of scratch so that a large output can be
// streamed (written once, never read for ownership).
void SoftmaxRows(const float* x, float* y, int64_t rows, int64_t len, bool log) {
  const bool stream = rows * len >= kStreamMin;
  std::vector<float> scratch(stream && !log ? size_t(len) : 0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * len;
    float* yr = y + r * len;
    const float m = RowMax(xr, len);
    if (log) {  // x - m - log(sum exp(x - m))
      const float shift = m + std::log(ExpSum(xr, m, nullptr, len));
      StoreRow(yr, len, [&](auto dd, int64_t j) {
        return hn::Sub(hn::LoadU(dd, xr + j), hn::Set(dd, shift));
      }, stream);
      continue;
    }
    float* e = stream ? scratch.data() : yr;
    const float inv = 1.f / ExpSum(xr, m, e, len);
    StoreRow(yr, len, [&](auto dd, int64_t j) {
      return hn::Mul(hn::LoadU(dd, e + j), hn::Set(dd, inv));
    }, stream);
  }
  if (stream) hwy::FlushStream();
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
