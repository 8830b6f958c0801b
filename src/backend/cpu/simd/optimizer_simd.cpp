// The optimizer's passes over every weight (AdamW, the EMA, the gradient norm) with Highway.
// They stream ~30 bytes a parameter each step and were scalar (a possibly aliased coefficient
// struct and sqrt's errno kept the compiler from vectorising): 10% of a default-model step.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/optimizer_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One vector of the update.
template <class D>
HWY_INLINE void AdamWLanes(D d, float* p, const float* g, float* m, float* v, const AdamWCoeffs& k) {
  const auto gv = hn::LoadU(d, g);
  const auto mv = hn::Add(hn::Mul(hn::Set(d, k.b1), hn::LoadU(d, m)), hn::Mul(hn::Set(d, 1.f - k.b1), gv));
  const auto vv = hn::Add(hn::Mul(hn::Set(d, k.b2), hn::LoadU(d, v)),
                          hn::Mul(hn::Mul(hn::Set(d, 1.f - k.b2), gv), gv));
  const auto den = hn::Add(hn::Sqrt(hn::Div(vv, hn::Set(d, k.c2))), hn::Set(d, k.eps));
  const auto step = hn::Div(hn::Mul(hn::Set(d, k.lr), hn::Div(mv, hn::Set(d, k.c1))), den);
  hn::StoreU(mv, d, m);
  hn::StoreU(vv, d, v);
  hn::StoreU(hn::Sub(hn::Mul(hn::LoadU(d, p), hn::Set(d, k.decay)), step), d, p);
}

// Runs f(d, arrays, offset) over n elements of S arrays, the first W of them written, a whole
// vector at a time; the tail goes
// through a zero-padded copy, so every element gets the same instructions (and bits) wherever
// a run starts: ShardedAdamW splits the weights at other places than AdamW and must match it
// bit for bit (tests/dist/test_cli_mpi.sh).
template <size_t W, size_t S, class F>
HWY_INLINE void WholeVectors(int64_t n, float* const (&a)[S], F f) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  for (; i + N <= n; i += N) f(d, a, i);
  if (i == n) return;
  HWY_ALIGN float tail[S][hn::MaxLanes(d)] = {};
  float* t[S];
  for (size_t s = 0; s < S; ++s) {
    std::copy(a[s] + i, a[s] + n, tail[s]);
    t[s] = tail[s];
  }
  f(d, t, 0);
  for (size_t s = 0; s < W; ++s) std::copy(tail[s], tail[s] + (n - i), a[s] + i);
}

void AdamWUpdate(float* p, const float* g, float* m, float* v, int64_t n, const AdamWCoeffs& k) {
  float* const a[4] = {p, m, v, const_cast<float*>(g)};  // g is only read
  WholeVectors<3>(n, a, [&](auto d, float* const* x, int64_t i) {
    AdamWLanes(d, x[0] + i, x[3] + i, x[1] + i, x[2] + i, k);
  });
}

void EmaUpdate(float* e, const float* p, int64_t n, float decay) {
  float* const a[2] = {e, const_cast<float*>(p)};  // p is only read
  WholeVectors<1>(n, a, [&](auto d, float* const* x, int64_t i) {
    const auto ev = hn::Mul(hn::Set(d, decay), hn::LoadU(d, x[0] + i));
    hn::StoreU(hn::Add(ev, hn::Mul(hn::Set(d, 1.f - decay), hn::LoadU(d, x[1] + i))), d, x[0] + i);
  });
}

// In double lanes, four accumulators: a float square never overflows double, so NaN/Inf
// arise only from NaN/Inf elements, and the sum hardly depends on how the weights are split
// (ShardedAdamW's flat blocks must clip exactly as AdamW's tensors do).
double SquaredSum(const float* x, int64_t n) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const int64_t N = int64_t(hn::Lanes(dd));
  auto a0 = hn::Zero(dd), a1 = hn::Zero(dd), a2 = hn::Zero(dd), a3 = hn::Zero(dd);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    const auto x0 = hn::PromoteTo(dd, hn::LoadU(df, x + i)), x1 = hn::PromoteTo(dd, hn::LoadU(df, x + i + N));
    const auto x2 = hn::PromoteTo(dd, hn::LoadU(df, x + i + 2 * N));
    const auto x3 = hn::PromoteTo(dd, hn::LoadU(df, x + i + 3 * N));
    a0 = hn::MulAdd(x0, x0, a0), a1 = hn::MulAdd(x1, x1, a1);
    a2 = hn::MulAdd(x2, x2, a2), a3 = hn::MulAdd(x3, x3, a3);
  }
  double s = hn::GetLane(hn::SumOfLanes(dd, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (; i < n; ++i) s += double(x[i]) * x[i];
  return s;
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(AdamWUpdate);
HWY_EXPORT(EmaUpdate);
HWY_EXPORT(SquaredSum);
void adamw_update_f32(float* p, const float* g, float* m, float* v, int64_t n, const AdamWCoeffs& k) {
  HWY_DYNAMIC_DISPATCH(AdamWUpdate)(p, g, m, v, n, k);
}
void ema_update_f32(float* e, const float* p, int64_t n, float decay) {
  HWY_DYNAMIC_DISPATCH(EmaUpdate)(e, p, n, decay);
}
double squared_sum_f32(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(SquaredSum)(x, n); }
}  // namespace kinema
#endif
