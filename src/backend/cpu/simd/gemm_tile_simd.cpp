// A register-tiled f32 GEMM for small blocks (the inner products of flash attention), written
// once with Highway. Tile: 4 rows of A broadcast against 3 vectors of B = 12 accumulators,
// which fits the 16 registers of AVX2 and leaves AVX-512 FMA-bound.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/gemm_tile_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include <cmath>

#include "backend/cpu/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The accumulators must live in registers: every loop over the tile is unrolled completely
// (GCC keeps a vector array on the stack otherwise, and the kernel measures store forwarding).
#define KINEMA_UNROLL _Pragma("GCC unroll 16")

// kTransA: A is stored [K, M] (element (r, k) at A[k * lda + r]), so C += A^T-stored products
// need no explicit transpose.
template <int MR, int NV, bool kTransA>
HWY_INLINE void Tile(int64_t K, const float* HWY_RESTRICT A, int64_t lda, const float* HWY_RESTRICT B,
                     int64_t ldb, float* HWY_RESTRICT C, int64_t ldc) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  using V = hn::Vec<decltype(d)>;
  V acc[MR][NV];
  KINEMA_UNROLL for (int r = 0; r < MR; ++r)
    KINEMA_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = hn::LoadU(d, C + r * ldc + v * L);
  for (int64_t k = 0; k < K; ++k) {
    V b[NV];
    KINEMA_UNROLL for (int v = 0; v < NV; ++v) b[v] = hn::LoadU(d, B + k * ldb + v * L);
    KINEMA_UNROLL for (int r = 0; r < MR; ++r) {
      const V a = hn::Set(d, kTransA ? A[k * lda + r] : A[r * lda + k]);
      KINEMA_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(a, b[v], acc[r][v]);
    }
  }
  KINEMA_UNROLL for (int r = 0; r < MR; ++r)
    KINEMA_UNROLL for (int v = 0; v < NV; ++v) hn::StoreU(acc[r][v], d, C + r * ldc + v * L);
}

// Widest tiles first: NV vectors of B per row. With 32 vector registers (AVX-512) a 6 x 4 tile
// keeps 24 accumulators; with 16 (AVX2, SSE4) 4 x 3 is the largest that does not spill.
#if HWY_TARGET <= HWY_AVX3
constexpr int kMaxRows = 6, kMaxVecs = 4;
#else
constexpr int kMaxRows = 4, kMaxVecs = 3;
#endif

template <int MR, bool kTransA>
HWY_INLINE void RowBlock(int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float* C, int64_t ldc) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t j = 0;
  for (; j + kMaxVecs * L <= N; j += kMaxVecs * L)
    Tile<MR, kMaxVecs, kTransA>(K, A, lda, B + j, ldb, C + j, ldc);
  for (; j + 2 * L <= N; j += 2 * L) Tile<MR, 2, kTransA>(K, A, lda, B + j, ldb, C + j, ldc);
  for (; j + L <= N; j += L) Tile<MR, 1, kTransA>(K, A, lda, B + j, ldb, C + j, ldc);
}

template <bool kTransA>
HWY_INLINE void Gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                     int64_t ldb, float* C, int64_t ldc) {
  // row i of A starts at A + i * lda, or at column i of the stored [K, M] matrix
  auto row = [&](int64_t i) { return kTransA ? A + i : A + i * lda; };
  int64_t i = 0;
  for (; i + kMaxRows <= M; i += kMaxRows)
    RowBlock<kMaxRows, kTransA>(N, K, row(i), lda, B, ldb, C + i * ldc, ldc);
  for (; i + 2 <= M; i += 2) RowBlock<2, kTransA>(N, K, row(i), lda, B, ldb, C + i * ldc, ldc);
  for (; i < M; ++i) RowBlock<1, kTransA>(N, K, row(i), lda, B, ldb, C + i * ldc, ldc);
}

void GemmAcc(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc) {
  Gemm<false>(M, N, K, A, lda, B, ldb, C, ldc);
}

void GemmAccTransA(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float* C, int64_t ldc) {
  Gemm<true>(M, N, K, A, lda, B, ldb, C, ldc);
}

float RowMax(const float* x, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  auto m = hn::Set(d, -HUGE_VALF);
  int64_t j = 0;
  for (; j + L <= n; j += L) m = hn::Max(m, hn::LoadU(d, x + j));
  float r = hn::GetLane(hn::MaxOfLanes(d, m));
  for (; j < n; ++j) r = x[j] > r ? x[j] : r;
  return r;
}

float ExpShiftSum(const float* s, float* p, int64_t n, float shift) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const auto sh = hn::Set(d, shift);
  const auto lo = hn::Set(d, -88.f);  // exp(-88) ~ 6e-39: masked (-inf) scores become ~0, not NaN
  auto acc = hn::Zero(d);
  int64_t j = 0;
  for (; j + L <= n; j += L) {
    const auto e = hn::Exp(d, hn::Max(hn::Sub(hn::LoadU(d, s + j), sh), lo));
    hn::StoreU(e, d, p + j);
    acc = hn::Add(acc, e);
  }
  float total = hn::GetLane(hn::SumOfLanes(d, acc));
  const hn::CappedTag<float, 1> d1;
  for (; j < n; ++j) {
    const auto e = hn::Exp(d1, hn::Max(hn::Sub(hn::LoadU(d1, s + j), hn::Set(d1, shift)), hn::Set(d1, -88.f)));
    hn::StoreU(e, d1, p + j);
    total += hn::GetLane(e);
  }
  return total;
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(GemmAcc);
HWY_EXPORT(GemmAccTransA);
void gemm_acc_f32_at(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                     int64_t ldb, float* C, int64_t ldc) {
  HWY_DYNAMIC_DISPATCH(GemmAccTransA)(M, N, K, A, lda, B, ldb, C, ldc);
}
HWY_EXPORT(ExpShiftSum);
HWY_EXPORT(RowMax);
float row_max_f32(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(RowMax)(x, n); }
void gemm_acc_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc) {
  HWY_DYNAMIC_DISPATCH(GemmAcc)(M, N, K, A, lda, B, ldb, C, ldc);
}
float exp_shift_sum_f32(const float* s, float* p, int64_t n, float shift) {
  return HWY_DYNAMIC_DISPATCH(ExpShiftSum)(s, p, n, shift);
}
}  // namespace kinema
#endif
