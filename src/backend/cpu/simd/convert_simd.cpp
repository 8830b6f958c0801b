// bf16 <-> f32 row conversion with Highway (round to nearest even, NaN kept quiet), the inner
// loop of every bf16 load and store; the scalar bf16_to_f32 / f32_to_bf16 are the reference.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/convert_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "backend/cpu/kernels.hpp"
#include "kinema/dtype.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void Bf16ToF32(const uint16_t* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du32;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const int64_t L = int64_t(hn::Lanes(df));
  int64_t i = 0;
  for (; i + L <= n; i += L)
    hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, src + i)))), df, dst + i);
  for (; i < n; ++i) dst[i] = bf16_to_f32(bf16_t{src[i]});
}

void F32ToBf16(const float* src, uint16_t* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du32;
  const hn::RebindToSigned<decltype(df)> di32;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const int64_t L = int64_t(hn::Lanes(df));
  const auto bias = hn::Set(du32, 0x7fffu), one = hn::Set(du32, 1u), quiet = hn::Set(du32, 0x40u);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const auto v = hn::LoadU(df, src + i);
    const auto u = hn::BitCast(du32, v);
    const auto rounded = hn::ShiftRight<16>(hn::Add(u, hn::Add(bias, hn::And(hn::ShiftRight<16>(u), one))));
    const auto nan = hn::Or(hn::ShiftRight<16>(u), quiet);
    const auto r = hn::IfThenElse(hn::RebindMask(du32, hn::IsNaN(v)), nan, rounded);
    hn::StoreU(hn::DemoteTo(du16, hn::BitCast(di32, r)), du16, dst + i);
  }
  for (; i < n; ++i) dst[i] = f32_to_bf16(src[i]).bits;
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(Bf16ToF32);
HWY_EXPORT(F32ToBf16);
void bf16_to_f32_row(const uint16_t* src, float* dst, int64_t n) { HWY_DYNAMIC_DISPATCH(Bf16ToF32)(src, dst, n); }
void f32_to_bf16_row(const float* src, uint16_t* dst, int64_t n) { HWY_DYNAMIC_DISPATCH(F32ToBf16)(src, dst, n); }
}  // namespace kinema
#endif
