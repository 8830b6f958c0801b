// Plain-loop twins of the optimizer kernels (simd/optimizer_simd.cpp): the formulas as written
// in the AdamW paper and torch.optim.AdamW, and the per-element double sum of squares.
#include <cmath>

#include "backend/cpu/kernels.hpp"

namespace kinema {

void adamw_update_f32_ref(float* p, const float* g, float* m, float* v, int64_t n, const AdamWCoeffs& k) {
  for (int64_t j = 0; j < n; ++j) {
    m[j] = k.b1 * m[j] + (1.f - k.b1) * g[j];
    v[j] = k.b2 * v[j] + (1.f - k.b2) * g[j] * g[j];
    p[j] = p[j] * k.decay - k.lr * (m[j] / k.c1) / (std::sqrt(v[j] / k.c2) + k.eps);
  }
}

void ema_update_f32_ref(float* e, const float* p, int64_t n, float decay) {
  for (int64_t j = 0; j < n; ++j) e[j] = decay * e[j] + (1.f - decay) * p[j];
}

double squared_sum_f32_ref(const float* x, int64_t n) {
  double s = 0;
  for (int64_t j = 0; j < n; ++j) s += double(x[j]) * x[j];
  return s;
}

}  // namespace kinema
