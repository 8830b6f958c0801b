// Row kernels of LayerNorm / RMSNorm / GroupNorm with Highway. A row is `len` contiguous
// values; its affine weights are either per element (spatial == 0) or per channel segment of
// `spatial` values (GroupNorm: w and b point at the group's first channel).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/norm_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cmath>

#include "backend/cpu/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Applies f(d, offset, count_is_full_vector) over [0, n) in vector steps, tail with 1 lane.
template <class F>
HWY_INLINE void Each(int64_t n, F f) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t j = 0;
  for (; j + L <= n; j += L) f(d, j);
  for (; j < n; ++j) f(d1, j);
}

void NormRowForward(const float* x, float* y, int64_t len, bool center, float eps, const float* w,
                    const float* b, int64_t spatial, float* mean_out, float* rstd_out) {
  const hn::ScalableTag<float> d;
  float mean = 0;
  if (center) {
    auto acc = hn::Zero(d);
    float tail = 0;
    Each(len, [&](auto dd, int64_t j) {
      if constexpr (hn::MaxLanes(dd) == 1) tail += x[j];
      else acc = hn::Add(acc, hn::LoadU(d, x + j));
    });
    mean = (hn::GetLane(hn::SumOfLanes(d, acc)) + tail) / float(len);
  }
  auto acc = hn::Zero(d);
  float tail = 0;
  const auto vm = hn::Set(d, mean);
  Each(len, [&](auto dd, int64_t j) {
    if constexpr (hn::MaxLanes(dd) == 1) {
      tail += (x[j] - mean) * (x[j] - mean);
    } else {
      const auto c = hn::Sub(hn::LoadU(d, x + j), vm);
      acc = hn::MulAdd(c, c, acc);
    }
  });
  const float rstd = 1.f / std::sqrt((hn::GetLane(hn::SumOfLanes(d, acc)) + tail) / float(len) + eps);
  *mean_out = mean;
  *rstd_out = rstd;
  if (spatial == 0) {
    Each(len, [&](auto dd, int64_t j) {
      auto v = hn::Mul(hn::Sub(hn::LoadU(dd, x + j), hn::Set(dd, mean)), hn::Set(dd, rstd));
      if (w) v = hn::Mul(v, hn::LoadU(dd, w + j));
      if (b) v = hn::Add(v, hn::LoadU(dd, b + j));
      hn::StoreU(v, dd, y + j);
    });
    return;
  }
  for (int64_t c = 0; c < len / spatial; ++c) {  // one weight per channel segment
    const float sc = rstd * (w ? w[c] : 1.f), sh = (b ? b[c] : 0.f) - mean * sc;
    const float* xs = x + c * spatial;
    float* ys = y + c * spatial;
    Each(spatial, [&](auto dd, int64_t j) {
      hn::StoreU(hn::MulAdd(hn::LoadU(dd, xs + j), hn::Set(dd, sc), hn::Set(dd, sh)), dd, ys + j);
    });
  }
}

void NormRowBackward(const float* x, const float* g, float* dx, float* xhat, int64_t len, bool center,
                     float mean, float rstd, const float* w, int64_t spatial) {
  const hn::ScalableTag<float> d;
  auto s1 = hn::Zero(d), s2 = hn::Zero(d);
  float t1 = 0, t2 = 0;
  // weight of element j (per element, or per channel segment)
  auto weight_at = [&](auto dd, int64_t j) {
    if (!w) return hn::Set(dd, 1.f);
    if (spatial == 0) return hn::LoadU(dd, w + j);
    return hn::Set(dd, w[j / spatial]);
  };
  // segments never straddle a vector when spatial is a multiple of the lane count; otherwise
  // use the scalar path below
  const int64_t L = int64_t(hn::Lanes(d));
  const bool vector_ok = spatial == 0 || spatial % L == 0;
  if (vector_ok) {
    Each(len, [&](auto dd, int64_t j) {
      const auto xh = hn::Mul(hn::Sub(hn::LoadU(dd, x + j), hn::Set(dd, mean)), hn::Set(dd, rstd));
      const auto dxh = hn::Mul(hn::LoadU(dd, g + j), weight_at(dd, j));
      if constexpr (hn::MaxLanes(dd) == 1) {
        t1 += hn::GetLane(dxh);
        t2 += hn::GetLane(hn::Mul(dxh, xh));
      } else {
        s1 = hn::Add(s1, dxh);
        s2 = hn::MulAdd(dxh, xh, s2);
      }
    });
  } else {
    for (int64_t j = 0; j < len; ++j) {
      float xh = (x[j] - mean) * rstd, dxh = g[j] * (w ? w[spatial ? j / spatial : j] : 1.f);
      t1 += dxh;
      t2 += dxh * xh;
    }
  }
  const float m1 = center ? (hn::GetLane(hn::SumOfLanes(d, s1)) + t1) / float(len) : 0.f;
  const float m2 = (hn::GetLane(hn::SumOfLanes(d, s2)) + t2) / float(len);
  for (int64_t j = 0; j < len; ++j) {  // second pass: simple enough for the compiler
    float xh = (x[j] - mean) * rstd, dxh = g[j] * (w ? w[spatial ? j / spatial : j] : 1.f);
    dx[j] = rstd * (dxh - m1 - xh * m2);
    if (xhat) xhat[j] = xh;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(NormRowForward);
HWY_EXPORT(NormRowBackward);

void norm_forward_f32(const NormDesc& d, const float* x, const float* w, const float* b, float* y,
                      float* mean, float* rstd) {
  for (int64_t r = 0; r < d.rows; ++r) {
    int64_t off = d.spatial ? (r % d.groups) * (d.len / d.spatial) : 0;
    HWY_DYNAMIC_DISPATCH(NormRowForward)(x + r * d.len, y + r * d.len, d.len, d.center, d.eps, w ? w + off : nullptr,
        b ? b + off : nullptr, d.spatial, mean + r, rstd + r);
  }
}

void norm_backward_f32(const NormDesc& d, const float* x, const float* w, const float* g,
                       const float* mean, const float* rstd, float* dx, float* xhat) {
  for (int64_t r = 0; r < d.rows; ++r) {
    int64_t off = d.spatial ? (r % d.groups) * (d.len / d.spatial) : 0;
    HWY_DYNAMIC_DISPATCH(NormRowBackward)(x + r * d.len, g + r * d.len, dx + r * d.len, xhat ? xhat + r * d.len : nullptr, d.len,
        d.center, mean[r], rstd[r], w ? w + off : nullptr, d.spatial);
  }
}
}  // namespace kinema
#endif
