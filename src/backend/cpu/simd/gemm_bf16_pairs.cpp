// The bf16 tile GEMM of flash attention on AVX512_BF16 (vdpbf16ps: per f32 lane, the dot
// product of two bf16 pairs added to the lane; 64 flops per instruction where an f32 FMA does
// 32, at the same rate). Intrinsics, not Highway: the installed Highway (1.0.3) has no op for
// it. Only this file is compiled for AVX512_BF16, function by function (KINEMA_BF16); callers
// check cpu_has_bf16_dot() first. gemm_bf16_pairs_ref is its twin.
//
// Microkernel: up to 8 rows x 32 columns (16 f32 accumulators: enough independent chains to
// cover vdpbf16ps's latency on both pipes), per pair of k two loads of B and one broadcast of A
// per row (a memory operand of the dot product).
#include <immintrin.h>

#include <algorithm>

#include "backend/cpu/kernels.hpp"

// GCC 12's own intrinsics start from _mm512_undefined_*(), which -Wmaybe-uninitialized
// reports once they are inlined here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define KINEMA_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace kinema {
namespace {

template <int R, int NV>
KINEMA_BF16 void micro(int64_t K2, const uint32_t* A, int64_t a_row, int64_t a_pair, const uint32_t* B,
                       int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  __m512 c[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) c[r][v] = accumulate ? _mm512_loadu_ps(C + r * ldc + 16 * v) : _mm512_setzero_ps();
  for (int64_t k = 0; k < K2; ++k) {
    __m512bh b[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) b[v] = (__m512bh)_mm512_loadu_si512(B + k * ldb + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(A[r * a_row + k * a_pair]));
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) c[r][v] = _mm512_dpbf16_ps(c[r][v], a, b[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(C + r * ldc + 16 * v, c[r][v]);
}

using Micro = void (*)(int64_t, const uint32_t*, int64_t, int64_t, const uint32_t*, int64_t, float*, int64_t, bool);

template <int NV>
Micro micro_for(int64_t rows) {
  switch (rows) {
    case 1: return micro<1, NV>;
    case 2: return micro<2, NV>;
    case 3: return micro<3, NV>;
    case 4: return micro<4, NV>;
    case 5: return micro<5, NV>;
    case 6: return micro<6, NV>;
    case 7: return micro<7, NV>;
    default: return micro<8, NV>;
  }
}

// Two bf16 (round to nearest even) per dword: lo from a, hi from b.
KINEMA_BF16 __m512i pair_up(__m512 a, __m512 b) {
  const __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(a));
  const __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(b));
  return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

}  // namespace

KINEMA_BF16 void gemm_bf16_pairs(int64_t M, int64_t N, int64_t K2, const uint32_t* A, int64_t a_row,
                                 int64_t a_pair, const uint32_t* B, int64_t ldb, float* C, int64_t ldc,
                                 bool accumulate) {
  for (int64_t j = 0; j < N; j += 32) {
    const bool two = N - j >= 32;
    for (int64_t i = 0; i < M; i += 8) {
      Micro f = two ? micro_for<2>(M - i) : micro_for<1>(M - i);
      f(K2, A + i * a_row, a_row, a_pair, B + j, ldb, C + i * ldc + j, ldc, accumulate);
    }
  }
}

KINEMA_BF16 void to_bf16_rows(const float* x, int64_t rows, int64_t cols, int64_t ldx, uint16_t* y,
                              int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = x + r * ldx;
    uint16_t* d = y + r * ldy;
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32)
      _mm512_storeu_si512(d + c, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + c + 16), _mm512_loadu_ps(s + c)));
    for (; c < cols; c += 16) {
      const __mmask16 m = __mmask16(cols - c >= 16 ? 0xFFFF : (1u << (cols - c)) - 1);
      _mm256_mask_storeu_epi16(d + c, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, s + c)));
    }
  }
}

KINEMA_BF16 void pair_rows_bf16(const float* row0, const float* row1, int64_t n, uint32_t* out) {
  int64_t c = 0;
  const __m512 zero = _mm512_setzero_ps();
  for (; c < n; c += 16) {
    const __mmask16 m = __mmask16(n - c >= 16 ? 0xFFFF : (1u << (n - c)) - 1);
    const __m512 a = _mm512_maskz_loadu_ps(m, row0 + c), b = row1 ? _mm512_maskz_loadu_ps(m, row1 + c) : zero;
    _mm512_mask_storeu_epi32(out + c, m, pair_up(a, b));
  }
}

}  // namespace kinema
