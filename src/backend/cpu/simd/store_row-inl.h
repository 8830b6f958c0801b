// Writing a row of computed floats, shared by the elementwise, reduction and norm kernels.
// Outputs larger than the caches are written with non-temporal stores: a normal store first
// reads the line it overwrites (read-for-ownership), a third more memory traffic than the op
// needs; memcpy avoids it the same way.
// Per-target header (Highway's -inl convention): included after foreach_target.h.
#if defined(KINEMA_SIMD_STORE_ROW_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KINEMA_SIMD_STORE_ROW_INL_H_
#undef KINEMA_SIMD_STORE_ROW_INL_H_
#else
#define KINEMA_SIMD_STORE_ROW_INL_H_
#endif

#include <cstdint>

#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Outputs of at least this many floats (4 MiB, one call's share) are streamed.
constexpr int64_t kStreamMin = int64_t(1) << 20;

// out[i] = g(d, i) for i < n, where g takes a full-vector tag or a one-lane tag (tails and the
// lanes before the first aligned vector); g may read `out` at the indices it produces. With
// `stream`, full vectors use non-temporal stores and the caller calls hwy::FlushStream() once,
// after its last row.
template <class G>
HWY_INLINE void StoreRow(float* out, int64_t n, G g, bool stream) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  if (stream) {
    for (; i < n && reinterpret_cast<uintptr_t>(out + i) % (N * 4) != 0; ++i)
      hn::StoreU(g(d1, i), d1, out + i);
    for (; i + N <= n; i += N) hn::Stream(g(d, i), d, out + i);
  } else {
    for (; i + N <= n; i += N) hn::StoreU(g(d, i), d, out + i);
  }
  for (; i < n; ++i) hn::StoreU(g(d1, i), d1, out + i);
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
