#include <cstring>
#include <cmath>

#include "backend/cpu/kernels.hpp"

namespace kinema {

void gemm_acc_f32_ref(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = C[i * ldc + j];
      for (int64_t k = 0; k < K; ++k) s += double(A[i * lda + k]) * B[k * ldb + j];
      C[i * ldc + j] = float(s);
    }
}

void gemm_bf16_pairs_ref(int64_t M, int64_t N, int64_t K2, const uint32_t* A, int64_t a_row, int64_t a_pair,
                         const uint32_t* B, int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  auto f = [](uint32_t bits16) {
    const uint32_t u = bits16 << 16;
    float x;
    std::memcpy(&x, &u, 4);
    return double(x);
  };
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = accumulate ? C[i * ldc + j] : 0.0;
      for (int64_t p = 0; p < K2; ++p) {
        const uint32_t a = A[i * a_row + p * a_pair], b = B[p * ldb + j];
        s += f(a & 0xFFFF) * f(b & 0xFFFF) + f(a >> 16) * f(b >> 16);
      }
      C[i * ldc + j] = float(s);
    }
}

float exp_shift_sum_f32_ref(const float* s, float* p, int64_t n, float shift) {
  double total = 0;
  for (int64_t j = 0; j < n; ++j) {
    p[j] = float(std::exp(double(s[j]) - shift));
    total += p[j];
  }
  return float(total);
}

}  // namespace kinema
