// A register-tiled f32 GEMM for small blocks (the inner products of flash attention), written
// once with Highway. Tile: 4 rows of A broadcast against 3 vectors of B = 12 accumulators,
// which fits the 16 registers of AVX2 and leaves AVX-512 FMA-bound.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/gemm_tile_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include "backend/cpu/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <int MR, int NV>
HWY_INLINE void Tile(int64_t K, const float* HWY_RESTRICT A, int64_t lda, const float* HWY_RESTRICT B,
                     int64_t ldb, float* HWY_RESTRICT C, int64_t ldc) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  using V = hn::Vec<decltype(d)>;
  V acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = hn::LoadU(d, C + r * ldc + v * L);
  for (int64_t k = 0; k < K; ++k) {
    V b[NV];
    for (int v = 0; v < NV; ++v) b[v] = hn::LoadU(d, B + k * ldb + v * L);
    for (int r = 0; r < MR; ++r) {
      const V a = hn::Set(d, A[r * lda + k]);
      for (int v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) hn::StoreU(acc[r][v], d, C + r * ldc + v * L);
}

template <int MR>
HWY_INLINE void RowBlock(int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float* C, int64_t ldc) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t j = 0;
  for (; j + 3 * L <= N; j += 3 * L) Tile<MR, 3>(K, A, lda, B + j, ldb, C + j, ldc);
  for (; j + L <= N; j += L) Tile<MR, 1>(K, A, lda, B + j, ldb, C + j, ldc);
}

void GemmAcc(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc) {
  int64_t i = 0;
  for (; i + 4 <= M; i += 4) RowBlock<4>(N, K, A + i * lda, lda, B, ldb, C + i * ldc, ldc);
  for (; i < M; ++i) RowBlock<1>(N, K, A + i * lda, lda, B, ldb, C + i * ldc, ldc);
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
HWY_EXPORT(ExpShiftSum);
void gemm_acc_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc) {
  HWY_DYNAMIC_DISPATCH(GemmAcc)(M, N, K, A, lda, B, ldb, C, ldc);
}
float exp_shift_sum_f32(const float* s, float* p, int64_t n, float shift) {
  return HWY_DYNAMIC_DISPATCH(ExpShiftSum)(s, p, n, shift);
}
}  // namespace kinema
#endif
