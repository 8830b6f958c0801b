// Reference normalisation kernels (double accumulation); the fast ones are simd/norm_simd.cpp.
#include <cmath>

#include "backend/cpu/kernels.hpp"

namespace kinema {
namespace {
inline int64_t widx(const NormDesc& d, int64_t row, int64_t j) {
  if (d.spatial == 0) return j;
  return (row % d.groups) * (d.len / d.spatial) + j / d.spatial;
}
}  // namespace

void norm_forward_f32_ref(const NormDesc& d, const float* x, const float* w, const float* b,
                          float* y, float* mean, float* rstd) {
  for (int64_t r = 0; r < d.rows; ++r) {
    const float* xr = x + r * d.len;
    double mu = 0, var = 0;
    if (d.center) {
      for (int64_t j = 0; j < d.len; ++j) mu += xr[j];
      mu /= double(d.len);
    }
    for (int64_t j = 0; j < d.len; ++j) var += (xr[j] - mu) * (xr[j] - mu);
    var /= double(d.len);
    double rs = 1 / std::sqrt(var + d.eps);
    mean[r] = float(mu);
    rstd[r] = float(rs);
    for (int64_t j = 0; j < d.len; ++j) {
      int64_t c = widx(d, r, j);
      y[r * d.len + j] = float((xr[j] - mu) * rs * (w ? w[c] : 1.0) + (b ? b[c] : 0.0));
    }
  }
}

void norm_backward_f32_ref(const NormDesc& d, const float* x, const float* w, const float* g,
                           const float* mean, const float* rstd, float* dx, float* xhat) {
  for (int64_t r = 0; r < d.rows; ++r) {
    const float *xr = x + r * d.len, *gr = g + r * d.len;
    double s1 = 0, s2 = 0;
    for (int64_t j = 0; j < d.len; ++j) {
      double dxh = double(gr[j]) * (w ? w[widx(d, r, j)] : 1.0);
      double xh = (xr[j] - double(mean[r])) * rstd[r];
      s1 += dxh;
      s2 += dxh * xh;
    }
    s1 = d.center ? s1 / double(d.len) : 0;
    s2 /= double(d.len);
    for (int64_t j = 0; j < d.len; ++j) {
      double dxh = double(gr[j]) * (w ? w[widx(d, r, j)] : 1.0);
      double xh = (xr[j] - double(mean[r])) * rstd[r];
      dx[r * d.len + j] = float(rstd[r] * (dxh - s1 - xh * s2));
      if (xhat) xhat[r * d.len + j] = float(xh);
    }
  }
}

}  // namespace kinema
