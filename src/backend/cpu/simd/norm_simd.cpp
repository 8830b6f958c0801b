// Row kernels of LayerNorm / RMSNorm / GroupNorm with Highway. A row is `len` contiguous
// values; its affine weights are either per element (spatial == 0) or per channel segment of
// `spatial` values (GroupNorm: w and b point at the group's first channel).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/norm_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cmath>

#include "backend/cpu/kernels.hpp"
#include "backend/cpu/simd/store_row-inl.h"

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

// Sum over [0, n) of term(d, j), a vector of terms (one lane in the tail); four accumulators
// so that consecutive adds do not wait for each other.
template <class F>
HWY_INLINE float SumOf(int64_t n, F term) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const int64_t L = int64_t(hn::Lanes(d));
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  int64_t j = 0;
  for (; j + 4 * L <= n; j += 4 * L) {
    a0 = hn::Add(a0, term(d, j));
    a1 = hn::Add(a1, term(d, j + L));
    a2 = hn::Add(a2, term(d, j + 2 * L));
    a3 = hn::Add(a3, term(d, j + 3 * L));
  }
  for (; j + L <= n; j += L) a0 = hn::Add(a0, term(d, j));
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (; j < n; ++j) s += hn::GetLane(term(d1, j));
  return s;
}

// Two passes for the statistics (the second over data the first left in L1): the mean, then
// the variance about it, which avoids E[x^2] - mean^2's cancellation. `stream`: the output
// is large, write it with non-temporal stores (the caller flushes).
void NormRowForward(const float* x, float* y, int64_t len, bool center, float eps, const float* w,
                    const float* b, int64_t spatial, float* mean_out, float* rstd_out, bool stream) {
  const float mean =
      center ? SumOf(len, [&](auto dd, int64_t j) { return hn::LoadU(dd, x + j); }) / float(len) : 0.f;
  const float var = SumOf(len, [&](auto dd, int64_t j) {
    const auto c = hn::Sub(hn::LoadU(dd, x + j), hn::Set(dd, mean));
    return hn::Mul(c, c);
  }) / float(len);
  const float rstd = 1.f / std::sqrt(var + eps);
  *mean_out = mean;
  *rstd_out = rstd;
  if (spatial == 0) {
    StoreRow(y, len, [&](auto dd, int64_t j) {
      auto v = hn::Mul(hn::Sub(hn::LoadU(dd, x + j), hn::Set(dd, mean)), hn::Set(dd, rstd));
      if (w) v = hn::Mul(v, hn::LoadU(dd, w + j));
      if (b) v = hn::Add(v, hn::LoadU(dd, b + j));
      return v;
    }, stream);
    return;
  }
  for (int64_t c = 0; c < len / spatial; ++c) {  // one weight per channel segment
    const float sc = rstd * (w ? w[c] : 1.f), sh = (b ? b[c] : 0.f) - mean * sc;
    const float* xs = x + c * spatial;
    StoreRow(y + c * spatial, spatial, [&](auto dd, int64_t j) {
      return hn::MulAdd(hn::LoadU(dd, xs + j), hn::Set(dd, sc), hn::Set(dd, sh));
    }, stream);
  }
}

// dx = rstd (dxh - mean(dxh) - xhat mean(dxh xhat)), dxh = g w (mean(dxh) = 0 without centring)
void NormRowBackward(const float* x, const float* g, float* dx, float* xhat, int64_t len, bool center,
                     float mean, float rstd, const float* w, int64_t spatial) {
  const hn::ScalableTag<float> d;
  // segments never straddle a vector when spatial is a multiple of the lane count; otherwise
  // every element goes through the one-lane path
  const int64_t L = int64_t(hn::Lanes(d));
  const bool vector_ok = spatial == 0 || spatial % L == 0;
  auto xhat_at = [&](auto dd, int64_t j) {
    return hn::Mul(hn::Sub(hn::LoadU(dd, x + j), hn::Set(dd, mean)), hn::Set(dd, rstd));
  };
  auto dxhat_at = [&](auto dd, int64_t j) {
    const auto gj = hn::LoadU(dd, g + j);
    if (!w) return gj;
    if (spatial == 0) return hn::Mul(gj, hn::LoadU(dd, w + j));
    return hn::Mul(gj, hn::Set(dd, w[j / spatial]));
  };
  auto pass = [&](int64_t n, auto f) {  // f over [0, n), vectors where segments allow
    if (vector_ok) return Each(n, f);
    const hn::CappedTag<float, 1> d1;
    for (int64_t j = 0; j < n; ++j) f(d1, j);
  };
  float t1 = 0, t2 = 0;
  if (vector_ok) {
    if (center) t1 = SumOf(len, dxhat_at);
    t2 = SumOf(len, [&](auto dd, int64_t j) { return hn::Mul(dxhat_at(dd, j), xhat_at(dd, j)); });
  } else {
    pass(len, [&](auto dd, int64_t j) {
      const auto dxh = dxhat_at(dd, j);
      t1 += hn::GetLane(dxh);
      t2 += hn::GetLane(hn::Mul(dxh, xhat_at(dd, j)));
    });
  }
  const float m1 = center ? t1 / float(len) : 0.f, m2 = t2 / float(len);
  pass(len, [&](auto dd, int64_t j) {
    const auto xh = xhat_at(dd, j);
    const auto v = hn::NegMulAdd(xh, hn::Set(dd, m2), hn::Sub(dxhat_at(dd, j), hn::Set(dd, m1)));
    hn::StoreU(hn::Mul(hn::Set(dd, rstd), v), dd, dx + j);
    if (xhat) hn::StoreU(xh, dd, xhat + j);
  });
}

// Rows of one call; GroupNorm rows take their group's weights (row % groups).
void NormRowsForward(const NormDesc& d, const float* x, const float* w, const float* b, float* y,
                     float* mean, float* rstd) {
  const bool stream = d.rows * d.len >= kStreamMin;
  for (int64_t r = 0; r < d.rows; ++r) {
    const int64_t off = d.spatial ? (r % d.groups) * (d.len / d.spatial) : 0;
    NormRowForward(x + r * d.len, y + r * d.len, d.len, d.center, d.eps, w ? w + off : nullptr,
                   b ? b + off : nullptr, d.spatial, mean + r, rstd + r, stream);
  }
  if (stream) hwy::FlushStream();
}

void NormRowsBackward(const NormDesc& d, const float* x, const float* w, const float* g,
                      const float* mean, const float* rstd, float* dx, float* xhat) {
  for (int64_t r = 0; r < d.rows; ++r) {
    const int64_t off = d.spatial ? (r % d.groups) * (d.len / d.spatial) : 0;
    NormRowBackward(x + r * d.len, g + r * d.len, dx + r * d.len, xhat ? xhat + r * d.len : nullptr,
                    d.len, d.center, mean[r], rstd[r], w ? w + off : nullptr, d.spatial);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(NormRowsForward);
HWY_EXPORT(NormRowsBackward);

void norm_forward_f32(const NormDesc& d, const float* x, const float* w, const float* b, float* y,
                      float* mean, float* rstd) {
  HWY_DYNAMIC_DISPATCH(NormRowsForward)(d, x, w, b, y, mean, rstd);
}

void norm_backward_f32(const NormDesc& d, const float* x, const float* w, const float* g,
                       const float* mean, const float* rstd, float* dx, float* xhat) {
  HWY_DYNAMIC_DISPATCH(NormRowsBackward)(d, x, w, g, mean, rstd, dx, xhat);
}
}  // namespace kinema
#endif
