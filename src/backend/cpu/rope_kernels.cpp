#include <cmath>
#include <vector>

#include "backend/cpu/kernels.hpp"

namespace kinema {

void rope_f32(const float* x, float* y, const float* angles, int64_t B, int64_t N, int64_t H,
              int64_t D, float sign) {
  int64_t P = D / 2;
  std::vector<float> c(static_cast<size_t>(P)), s(static_cast<size_t>(P));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n) {
      const float* a = angles + n * P;
      for (int64_t i = 0; i < P; ++i) {
        c[size_t(i)] = std::cos(a[i]);
        s[size_t(i)] = sign * std::sin(a[i]);
      }
      for (int64_t h = 0; h < H; ++h) {
        const float* xr = x + ((b * N + n) * H + h) * D;
        float* yr = y + ((b * N + n) * H + h) * D;
#pragma omp simd
        for (int64_t i = 0; i < P; ++i) {
          float x0 = xr[2 * i], x1 = xr[2 * i + 1];
          yr[2 * i] = x0 * c[size_t(i)] - x1 * s[size_t(i)];
          yr[2 * i + 1] = x0 * s[size_t(i)] + x1 * c[size_t(i)];
        }
      }
    }
}

void rope_f32_ref(const float* x, float* y, const float* angles, int64_t B, int64_t N, int64_t H,
                  int64_t D, float sign) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < D / 2; ++i) {
          double a = sign * double(angles[n * (D / 2) + i]);
          const float* xr = x + ((b * N + n) * H + h) * D;
          double x0 = xr[2 * i], x1 = xr[2 * i + 1];
          y[((b * N + n) * H + h) * D + 2 * i] = float(x0 * std::cos(a) - x1 * std::sin(a));
          y[((b * N + n) * H + h) * D + 2 * i + 1] = float(x0 * std::sin(a) + x1 * std::cos(a));
        }
}

}  // namespace kinema
