// The softmax steps of flash attention with Highway: the forward's online softmax over one
// block of scores, and the backward's recomputation of P from the row log-sum-exp.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/attention_softmax_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/kernels.hpp"
#include "backend/cpu/simd/exp_nonpositive-inl.h"
#include "backend/cpu/simd/row_reduce-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// p[j] = exp(s[j] - shift) for j < n (s[j] - shift <= 0; -inf gives 0); returns the sum of p.
HWY_INLINE float ExpShiftSumRow(const float* s, float* p, int64_t n, float shift) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const int64_t L = int64_t(hn::Lanes(d));
  auto a0 = hn::Zero(d), a1 = hn::Zero(d);
  int64_t j = 0;
  for (; j + 2 * L <= n; j += 2 * L) {
    const auto e0 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, s + j), hn::Set(d, shift)));
    const auto e1 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, s + j + L), hn::Set(d, shift)));
    hn::StoreU(e0, d, p + j);
    hn::StoreU(e1, d, p + j + L);
    a0 = hn::Add(a0, e0);
    a1 = hn::Add(a1, e1);
  }
  float total = hn::GetLane(hn::SumOfLanes(d, hn::Add(a0, a1)));
  for (; j < n; ++j) {
    const auto e = ExpNonPositive(d1, hn::Sub(hn::LoadU(d1, s + j), hn::Set(d1, shift)));
    hn::StoreU(e, d1, p + j);
    total += hn::GetLane(e);
  }
  return total;
}

float ExpShiftSum(const float* s, float* p, int64_t n, float shift) {
  return ExpShiftSumRow(s, p, n, shift);
}

// acc[j] *= alpha for j < n (n a multiple of the vector length or not)
HWY_INLINE void ScaleRow(float* acc, int64_t n, float alpha) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t j = 0;
  for (; j + L <= n; j += L) hn::StoreU(hn::Mul(hn::LoadU(d, acc + j), hn::Set(d, alpha)), d, acc + j);
  for (; j < n; ++j) acc[j] *= alpha;
}

// One key block of the online softmax (Milakov & Gimelshein 2018, as FlashAttention uses it),
// row by row: the running max m takes the block's max; the scores become exp(s - m), zero in
// the padding [cols, cols_p); the running sum l and the output accumulator row (acc_cols
// values) are rescaled by exp(m_old - m_new) before the block's sum joins l. A row whose
// every score so far is -inf (masked) gets a zero row of probabilities and stays as it was.
void OnlineSoftmaxBlock(float* S, int64_t ld, int64_t rows, int64_t cols, int64_t cols_p,
                        float* m, float* l, float* acc, int64_t ld_acc, int64_t acc_cols) {
  const hn::CappedTag<float, 1> d1;
  for (int64_t r = 0; r < rows; ++r) {
    float* s = S + r * ld;
    const float mnew = std::max(m[r], RowMax(s, cols));
    if (mnew == -HUGE_VALF) {
      std::fill(s, s + cols_p, 0.f);
      continue;
    }
    const float alpha = hn::GetLane(ExpNonPositive(d1, hn::Set(d1, m[r] - mnew)));  // 0 if m[r] = -inf
    const float sum = ExpShiftSumRow(s, s, cols, mnew);
    std::fill(s + cols, s + cols_p, 0.f);
    l[r] = l[r] * alpha + sum;
    m[r] = mnew;
    if (alpha != 1.f) ScaleRow(acc + r * ld_acc, acc_cols, alpha);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(ExpShiftSum);
HWY_EXPORT(OnlineSoftmaxBlock);

float exp_shift_sum_f32(const float* s, float* p, int64_t n, float shift) {
  return HWY_DYNAMIC_DISPATCH(ExpShiftSum)(s, p, n, shift);
}

void online_softmax_block_f32(float* S, int64_t ld, int64_t rows, int64_t cols, int64_t cols_p,
                              float* m, float* l, float* acc, int64_t ld_acc, int64_t acc_cols) {
  HWY_DYNAMIC_DISPATCH(OnlineSoftmaxBlock)(S, ld, rows, cols, cols_p, m, l, acc, ld_acc, acc_cols);
}
}  // namespace kinema
#endif
