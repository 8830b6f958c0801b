// Activations to int8 blocks with Highway, the first step of linear's int8 path
// (backend/cpu/quant_int8.hpp): per block of 32, d = max|x| / 127 and q = round(x * 127 / max|x|)
// (half to even), stored as q + 128. The scalar quantize_act_q8_*_ref is the reference; both do
// the same f32 operations (one division for 127 / max, one product per value, a rounding), so
// they agree bit for bit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/quant_act_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "backend/cpu/quant_int8.hpp"
#include "kinema/dtype.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One block of 32 f32 values at `x` (a multiple of L lanes) -> 32 bytes of q + 128 and d.
template <class D>
HWY_INLINE void QuantizeBlock(D df, const float* x, uint8_t* q, float* d) {
  const hn::RebindToSigned<D> di32;
  const hn::Rebind<uint8_t, D> du8;
  const int64_t L = int64_t(hn::Lanes(df));
  auto amax = hn::Zero(df);
  for (int64_t j = 0; j < kQuantBlock; j += L) amax = hn::Max(amax, hn::Abs(hn::LoadU(df, x + j)));
  const auto m = hn::MaxOfLanes(df, amax);  // in every lane
  const auto k127 = hn::Set(df, 127.f);
  *d = hn::GetLane(hn::Div(m, k127));
  const auto id = hn::IfThenElseZero(hn::Gt(m, hn::Zero(df)), hn::Div(k127, m));
  const auto offset = hn::Set(di32, 128);
  for (int64_t j = 0; j < kQuantBlock; j += L) {
    const auto r = hn::ConvertTo(di32, hn::Round(hn::Mul(hn::LoadU(df, x + j), id)));
    hn::StoreU(hn::DemoteTo(du8, hn::Add(r, offset)), du8, q + j);
  }
}

void QuantizeActF32(const float* x, uint8_t* q, float* d, int64_t n) {
  const hn::ScalableTag<float> df;
  if (kQuantBlock % hn::Lanes(df) != 0) return quantize_act_q8_f32_ref(x, q, d, n);
  for (int64_t b = 0; b < n / kQuantBlock; ++b)
    QuantizeBlock(df, x + b * kQuantBlock, q + b * kQuantBlock, d + b);
}

void QuantizeActBf16(const uint16_t* x, uint8_t* q, float* d, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du32;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const int64_t L = int64_t(hn::Lanes(df));
  if (kQuantBlock % L != 0) return quantize_act_q8_bf16_ref(x, q, d, n);
  HWY_ALIGN float f[kQuantBlock];
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const uint16_t* xb = x + b * kQuantBlock;
    for (int64_t j = 0; j < kQuantBlock; j += L)  // bf16 -> f32: the bits shifted up, exact
      hn::Store(hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, xb + j)))), df, f + j);
    QuantizeBlock(df, f, q + b * kQuantBlock, d + b);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(QuantizeActF32);
HWY_EXPORT(QuantizeActBf16);
void quantize_act_q8_f32(const float* x, uint8_t* q, float* d, int64_t n) {
  HWY_DYNAMIC_DISPATCH(QuantizeActF32)(x, q, d, n);
}
void quantize_act_q8_bf16(const uint16_t* x, uint8_t* q, float* d, int64_t n) {
  HWY_DYNAMIC_DISPATCH(QuantizeActBf16)(x, q, d, n);
}
}  // namespace kinema
#endif
