// q8_0 / q4_0 blocks to f32 with Highway: the inner loop of linear on a quantized weight, which
// dequantizes its weight panel by panel on every call (src/ops/matmul.cpp). The scalar
// dequantize_row (core/quant.cpp) is the reference; both compute d * q in f32, which is exact
// (an f16 scale times an integer of at most 8 bits), so the two agree bit for bit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/quant_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cstring>

#include "backend/cpu/kernels.hpp"
#include "core/quant.hpp"
#include "kinema/dtype.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float scale_of(const uint8_t* b) {
  f16_t h;
  std::memcpy(&h.bits, b, 2);
  return f16_to_f32(h);
}

// blocks: nblocks q8_0 blocks (34 bytes: f16 scale, 32 int8) -> dst[nblocks * 32]
void DequantQ8F32(const uint8_t* blocks, float* dst, int64_t nblocks) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di32;
  const hn::Rebind<int8_t, decltype(df)> di8;
  const int64_t L = int64_t(hn::Lanes(df));
  if (L > kQuantBlock || kQuantBlock % L != 0) {
    dequantize_row(blocks, dst, nblocks * kQuantBlock, int(DType::q8_0));
    return;
  }
  for (int64_t i = 0; i < nblocks; ++i) {
    const uint8_t* b = blocks + i * 34;
    const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
    const auto d = hn::Set(df, scale_of(b));
    float* o = dst + i * kQuantBlock;
    for (int64_t j = 0; j < kQuantBlock; j += L)
      hn::StoreU(hn::Mul(d, hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(di8, q + j)))), df, o + j);
  }
}

// q4_0 blocks (18 bytes: f16 scale, 16 bytes of nibbles; low nibbles are elements 0..15, high
// nibbles 16..31, each q - 8)
void DequantQ4F32(const uint8_t* blocks, float* dst, int64_t nblocks) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di32;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const int64_t L = int64_t(hn::Lanes(df));
  const int64_t half = kQuantBlock / 2;
  if (L > half || half % L != 0) {
    dequantize_row(blocks, dst, nblocks * kQuantBlock, int(DType::q4_0));
    return;
  }
  const auto mask = hn::Set(di32, 15), eight = hn::Set(di32, 8);
  for (int64_t i = 0; i < nblocks; ++i) {
    const uint8_t* b = blocks + i * 18;
    const auto d = hn::Set(df, scale_of(b));
    float* o = dst + i * kQuantBlock;
    for (int64_t j = 0; j < half; j += L) {
      const auto v = hn::BitCast(di32, hn::PromoteTo(hn::RebindToUnsigned<decltype(di32)>(), hn::LoadU(du8, b + 2 + j)));
      hn::StoreU(hn::Mul(d, hn::ConvertTo(df, hn::Sub(hn::And(v, mask), eight))), df, o + j);
      hn::StoreU(hn::Mul(d, hn::ConvertTo(df, hn::Sub(hn::ShiftRight<4>(v), eight))), df, o + half + j);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(DequantQ8F32);
HWY_EXPORT(DequantQ4F32);
void dequantize_row_f32(const uint8_t* blocks, float* dst, int64_t n, DType q) {
  if (q == DType::q8_0) HWY_DYNAMIC_DISPATCH(DequantQ8F32)(blocks, dst, n / kQuantBlock);
  else HWY_DYNAMIC_DISPATCH(DequantQ4F32)(blocks, dst, n / kQuantBlock);
}
}  // namespace kinema
#endif
