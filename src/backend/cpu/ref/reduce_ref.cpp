// Reference reductions in double precision.
#include <cmath>
#include <limits>

#include "backend/cpu/kernels.hpp"

namespace kinema {

void sum_rows_f32_ref(const float* x, int64_t rows, int64_t len, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t j = 0; j < len; ++j) s += x[r * len + j];
    out[r] = float(s);
  }
}

void sum_cols_f32_ref(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out) {
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0;
    for (int64_t r = 0; r < rows; ++r) s += x[r * ld + j];
    out[j] = float(s);
  }
}

void max_rows_f32_ref(const float* x, int64_t rows, int64_t len, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < len; ++j) m = std::fmax(m, x[r * len + j]);
    out[r] = m;
  }
}

void softmax_rows_f32_ref(const float* x, float* y, int64_t rows, int64_t len, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * len;
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (int64_t j = 0; j < len; ++j) m = std::fmax(m, double(xr[j]));
    for (int64_t j = 0; j < len; ++j) s += std::exp(double(xr[j]) - m);
    for (int64_t j = 0; j < len; ++j)
      y[r * len + j] = log ? float(double(xr[j]) - m - std::log(s))
                           : float(std::exp(double(xr[j]) - m) / s);
  }
}

}  // namespace kinema
