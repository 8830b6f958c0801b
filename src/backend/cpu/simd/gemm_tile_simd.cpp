// A register-tiled f32 GEMM for small blocks (the inner products of flash attention), written
// once with Highway. Tile: rows of A broadcast against vectors of B, 6 x 4 = 24 accumulators
// in AVX-512's 32 registers, 4 x 3 = 12 in the 16 of AVX2 and SSE4.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/gemm_tile_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "backend/cpu/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The accumulators must live in registers: every loop over the tile is unrolled completely
// (GCC keeps a vector array on the stack otherwise, and the kernel measures store forwarding).
#define KINEMA_UNROLL _Pragma("GCC unroll 16")

// kTransA: A is stored [K, M] (element (r, k) at A[k * lda + r]), so C += A^T-stored products
// need no explicit transpose. kAcc: C += A B; otherwise C = A B (C is not read).
template <int MR, int NV, bool kTransA, bool kAcc>
HWY_INLINE void Tile(int64_t K, const float* HWY_RESTRICT A, int64_t lda, const float* HWY_RESTRICT B,
                     int64_t ldb, float* HWY_RESTRICT C, int64_t ldc) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  using V = hn::Vec<decltype(d)>;
  V acc[MR][NV];
  KINEMA_UNROLL for (int r = 0; r < MR; ++r)
    KINEMA_UNROLL for (int v = 0; v < NV; ++v)
      acc[r][v] = kAcc ? hn::LoadU(d, C + r * ldc + v * L) : hn::Zero(d);
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

template <int MR, bool kTransA, bool kAcc>
HWY_INLINE void RowBlock(int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float* C, int64_t ldc) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t j = 0;
  for (; j + kMaxVecs * L <= N; j += kMaxVecs * L)
    Tile<MR, kMaxVecs, kTransA, kAcc>(K, A, lda, B + j, ldb, C + j, ldc);
  for (; j + 2 * L <= N; j += 2 * L) Tile<MR, 2, kTransA, kAcc>(K, A, lda, B + j, ldb, C + j, ldc);
  for (; j + L <= N; j += L) Tile<MR, 1, kTransA, kAcc>(K, A, lda, B + j, ldb, C + j, ldc);
}

template <bool kTransA, bool kAcc>
HWY_INLINE void Gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                     int64_t ldb, float* C, int64_t ldc) {
  // row i of A starts at A + i * lda, or at column i of the stored [K, M] matrix
  auto row = [&](int64_t i) { return kTransA ? A + i : A + i * lda; };
  int64_t i = 0;
  for (; i + kMaxRows <= M; i += kMaxRows)
    RowBlock<kMaxRows, kTransA, kAcc>(N, K, row(i), lda, B, ldb, C + i * ldc, ldc);
  for (; i + 2 <= M; i += 2) RowBlock<2, kTransA, kAcc>(N, K, row(i), lda, B, ldb, C + i * ldc, ldc);
  for (; i < M; ++i) RowBlock<1, kTransA, kAcc>(N, K, row(i), lda, B, ldb, C + i * ldc, ldc);
}

void GemmAcc(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc) {
  Gemm<false, true>(M, N, K, A, lda, B, ldb, C, ldc);
}

void GemmSet(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc) {
  Gemm<false, false>(M, N, K, A, lda, B, ldb, C, ldc);
}

void GemmAccTransA(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float* C, int64_t ldc) {
  Gemm<true, true>(M, N, K, A, lda, B, ldb, C, ldc);
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(GemmAcc);
HWY_EXPORT(GemmSet);
HWY_EXPORT(GemmAccTransA);
void gemm_acc_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc) {
  HWY_DYNAMIC_DISPATCH(GemmAcc)(M, N, K, A, lda, B, ldb, C, ldc);
}
void gemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
              int64_t ldb, float* C, int64_t ldc) {
  HWY_DYNAMIC_DISPATCH(GemmSet)(M, N, K, A, lda, B, ldb, C, ldc);
}
void gemm_acc_f32_at(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                     int64_t ldb, float* C, int64_t ldc) {
  HWY_DYNAMIC_DISPATCH(GemmAccTransA)(M, N, K, A, lda, B, ldb, C, ldc);
}
}  // namespace kinema
#endif
