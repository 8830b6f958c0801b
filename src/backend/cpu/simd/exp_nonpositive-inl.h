// exp(x) for the arguments softmax, attention and the logistic function have: x - max or
// -|z|, at most 0. With no overflow to guard against it takes about two thirds of the
// instructions of Highway's general Exp (one exponent adjustment, no range split). Correct for
// any x <= 88; accuracy ~1 ulp (the series stops where its next term is below 5e-9).
// Per-target header (Highway's -inl convention): included after foreach_target.h.
#if defined(KINEMA_SIMD_EXP_NONPOSITIVE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KINEMA_SIMD_EXP_NONPOSITIVE_INL_H_
#undef KINEMA_SIMD_EXP_NONPOSITIVE_INL_H_
#else
#define KINEMA_SIMD_EXP_NONPOSITIVE_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// x = n ln2 + r with n an integer and |r| <= ln2 / 2; exp(x) = 2^n e^r.
//  - n: adding 1.5 * 2^23 to x / ln2 rounds it to an integer that lands in the low mantissa
//    bits of the sum, so those bits shifted into the exponent field are 2^n's (mod 2^32).
//  - r: x - n ln2 with ln2 split in a part whose products with n are exact and a remainder
//    (Cody and Waite), so r keeps its low bits.
//  - e^r: Taylor series to r^7 (Horner); the first term left out, r^8 / 8!, is < 5e-9.
//  - x below -87 would take 2^n out of the normal range; the result there (< 1.7e-38) is 0,
//    as it is for NaN (as Highway's Exp).
template <class D, class V>
HWY_INLINE V ExpNonPositive(D d, V x) {
  const hn::RebindToSigned<D> di;
  const auto lo = hn::Set(d, -87.f);
  const auto xc = hn::Max(x, lo);
  const auto shifter = hn::Set(d, 12582912.f);  // 1.5 * 2^23
  const auto t = hn::MulAdd(xc, hn::Set(d, 1.44269504088896341f), shifter);
  const auto n = hn::Sub(t, shifter);
  auto r = hn::MulAdd(n, hn::Set(d, -0.693145751953125f), xc);   // ln2's first 16 bits
  r = hn::MulAdd(n, hn::Set(d, -1.42860682030941723e-6f), r);    // ln2 - those bits
  auto p = hn::Set(d, 1.f / 5040);
  p = hn::MulAdd(p, r, hn::Set(d, 1.f / 720));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f / 120));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f / 24));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f / 6));
  p = hn::MulAdd(p, r, hn::Set(d, 0.5f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f));
  const auto scaled = hn::Add(hn::BitCast(di, p), hn::ShiftLeft<23>(hn::BitCast(di, t)));
  return hn::IfThenElseZero(hn::Ge(x, lo), hn::BitCast(d, scaled));
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
