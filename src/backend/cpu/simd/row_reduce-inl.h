// The sum and the largest element of a row, with four vector accumulators to hide the latency
// of each add or max. Shared by the reductions and softmax (reduce_simd.cpp) and flash
// attention's online softmax (attention_softmax_simd.cpp). NaNs in RowMax's scalar tail are
// skipped, as std::fmax does.
// Per-target header (Highway's -inl convention): included after foreach_target.h.
#if defined(KINEMA_SIMD_ROW_REDUCE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KINEMA_SIMD_ROW_REDUCE_INL_H_
#undef KINEMA_SIMD_ROW_REDUCE_INL_H_
#else
#define KINEMA_SIMD_ROW_REDUCE_INL_H_
#endif

#include <cmath>
#include <cstdint>
#include <limits>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// combine(a, b) on vectors, lanes(d, v) to one lane, tail(s, x) on scalars; init fills the
// accumulators.
template <class Combine, class Lanes, class Tail>
HWY_INLINE float RowReduce(const float* x, int64_t n, float init, Combine combine, Lanes lanes, Tail tail) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto a0 = hn::Set(d, init), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a0 = combine(a0, hn::LoadU(d, x + i));
    a1 = combine(a1, hn::LoadU(d, x + i + N));
    a2 = combine(a2, hn::LoadU(d, x + i + 2 * N));
    a3 = combine(a3, hn::LoadU(d, x + i + 3 * N));
  }
  for (; i + N <= n; i += N) a0 = combine(a0, hn::LoadU(d, x + i));
  float r = hn::GetLane(lanes(d, combine(combine(a0, a1), combine(a2, a3))));
  for (; i < n; ++i) r = tail(r, x[i]);
  return r;
}

HWY_INLINE float RowSum(const float* x, int64_t n) {
  return RowReduce(
      x, n, 0.f, [](auto a, auto b) { return hn::Add(a, b); },
      [](auto d, auto v) { return hn::SumOfLanes(d, v); }, [](float s, float v) { return s + v; });
}

HWY_INLINE float RowMax(const float* x, int64_t n) {
  return RowReduce(
      x, n, -std::numeric_limits<float>::infinity(), [](auto a, auto b) { return hn::Max(a, b); },
      [](auto d, auto v) { return hn::MaxOfLanes(d, v); }, [](float s, float v) { return std::fmax(s, v); });
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#endif  // KINEMA_SIMD_ROW_REDUCE_INL_H_
