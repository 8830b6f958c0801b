// The largest element of a row, with four vector accumulators to hide the latency of each max.
// Shared by the reductions and softmax (reduce_simd.cpp) and flash attention's online softmax
// (attention_softmax_simd.cpp). NaNs in the scalar tail are skipped, as std::fmax does.
// Per-target header (Highway's -inl convention): included after foreach_target.h.
#if defined(KINEMA_SIMD_ROW_MAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KINEMA_SIMD_ROW_MAX_INL_H_
#undef KINEMA_SIMD_ROW_MAX_INL_H_
#else
#define KINEMA_SIMD_ROW_MAX_INL_H_
#endif

#include <cmath>
#include <cstdint>
#include <limits>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

HWY_INLINE float RowMax(const float* x, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto m0 = hn::Set(d, -std::numeric_limits<float>::infinity()), m1 = m0, m2 = m0, m3 = m0;
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    m0 = hn::Max(m0, hn::LoadU(d, x + i));
    m1 = hn::Max(m1, hn::LoadU(d, x + i + N));
    m2 = hn::Max(m2, hn::LoadU(d, x + i + 2 * N));
    m3 = hn::Max(m3, hn::LoadU(d, x + i + 3 * N));
  }
  for (; i + N <= n; i += N) m0 = hn::Max(m0, hn::LoadU(d, x + i));
  float r = hn::GetLane(hn::MaxOfLanes(d, hn::Max(hn::Max(m0, m1), hn::Max(m2, m3))));
  for (; i < n; ++i) r = std::fmax(r, x[i]);
  return r;
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#endif  // KINEMA_SIMD_ROW_MAX_INL_H_
