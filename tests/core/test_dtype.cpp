// dtype conversions against closed forms and exhaustive round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include <vector>

#include "backend/cpu/kernels.hpp"
#include "core/quant.hpp"
#include "kinema/dtype.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor.hpp"

namespace kinema {
namespace {

float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(DType, F16RoundTripsEveryHalfValueExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    f16_t v{uint16_t(h)};
    float f = f16_to_f32(v);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
      continue;
    }
    EXPECT_EQ(f32_to_f16(f).bits, v.bits) << "half bits " << h;
  }
}

TEST(DType, F16MatchesClosedFormValues) {
  EXPECT_EQ(f16_to_f32(f16_t{0x3c00}), 1.0f);
  EXPECT_EQ(f16_to_f32(f16_t{0xc000}), -2.0f);
  EXPECT_EQ(f16_to_f32(f16_t{0x7bff}), 65504.0f);
  EXPECT_EQ(f16_to_f32(f16_t{0x0001}), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f32_to_f16(65520.f).bits, 0x7c00);                    // rounds to inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)).bits, 0x0000);      // tie to even: zero
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)).bits, 0x0001);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);  // tie to even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)).bits, 0x3c02);
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000)).bits, 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000)).bits, 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808001)).bits, 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t h = 0; h < 65536; h += 7) {
    float f = bf16_to_f32(bf16_t{uint16_t(h)});
    if (!std::isnan(f)) EXPECT_EQ(f32_to_bf16(f).bits, h);
  }
}

TEST(DType, NamesRoundTripAndUnknownNamesThrow) {
  for (DType t : {DType::f32, DType::bf16, DType::f16, DType::q8_0, DType::q4_0})
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  EXPECT_THROW(dtype_from_name("f64"), Error);
}

TEST(Quant, Q8_0AndQ4_0FollowTheGgufFormulas) {
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = std::sin(float(i)) * 3.f;
  uint8_t b8[34], b4[18];
  float y8[32], y4[32];
  quantize_row(x, b8, 32, int(DType::q8_0));
  dequantize_row(b8, y8, 32, int(DType::q8_0));
  quantize_row(x, b4, 32, int(DType::q4_0));
  dequantize_row(b4, y4, 32, int(DType::q4_0));
  float amax = 0, m = 0;
  for (float v : x)
    if (std::fabs(v) > amax) amax = std::fabs(v), m = v;
  float d8 = f16_to_f32(f32_to_f16(amax / 127.f)), d4 = f16_to_f32(f32_to_f16(m / -8.f));
  for (int i = 0; i < 32; ++i) {
    EXPECT_NEAR(y8[i], x[i], d8 * 0.5f + 1e-6f) << i;  // error at most half a step
    EXPECT_NEAR(y4[i], x[i], std::fabs(d4) * 1.0f + 1e-6f) << i;
  }
}

// A q8_0 table's rows are gathered as blocks and dequantized alone (a q8_0 umT5-XXL's token
// embedding is 256384 x 4096); they must equal the rows of the whole dequantized table.
TEST(Quant, EmbeddingOfAQuantizedTableIsTheDequantizedTablesRows) {
  std::vector<float> v(40 * 64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(float(i) * 0.37f) * 2.f;
  for (DType t : {DType::q8_0, DType::q4_0}) {
    Tensor q = cast(Tensor::from_vector(v, {40, 64}), t);  // [40, 64]
    const std::vector<int32_t> ids{39, 0, 7, 7, 21, 1};
    Tensor got = embedding(q, ids, {2, 3});                  // [2, 3, 64]
    Tensor want = embedding(cast(q, DType::f32), ids, {2, 3});
    ASSERT_EQ(got.dtype(), DType::f32);
    ASSERT_EQ(got.shape(), (Shape{2, 3, 64}));
    EXPECT_EQ(got.to_vector(), want.to_vector()) << dtype_name(t);
  }
}

}  // namespace
}  // namespace kinema

namespace kinema {
namespace {

// The vector conversions against the scalar reference, on every SIMD target.
TEST(DType, VectorBf16ConversionsMatchTheScalarReference) {
  std::vector<float> f;
  for (uint32_t h = 0; h < 65536; ++h) f.push_back(bf16_to_f32(bf16_t{uint16_t(h)}));
  uint32_t s = 12345;
  for (int i = 0; i < 200000; ++i) {  // arbitrary bit patterns, ties and NaNs included
    s = s * 1664525u + 1013904223u;
    f.push_back(bits_to_f32(s));
    f.push_back(bits_to_f32((s & 0xffff0000u) | 0x8000u));
  }
  int64_t targets = simd_targets_available();
  for (int64_t bit = 1; bit != 0 && bit <= targets; bit <<= 1) {
    if (!(targets & bit)) continue;
    simd_force_target(bit);
    std::vector<uint16_t> h(f.size());
    f32_to_bf16_row(f.data(), h.data(), int64_t(f.size()));
    std::vector<float> back(f.size());
    bf16_to_f32_row(h.data(), back.data(), int64_t(h.size()));
    for (size_t i = 0; i < f.size(); ++i) {
      ASSERT_EQ(h[i], f32_to_bf16(f[i]).bits) << simd_target_name(bit) << " value " << i;
      uint32_t a, b;
      float want = bf16_to_f32(bf16_t{h[i]});
      std::memcpy(&a, &back[i], 4);
      std::memcpy(&b, &want, 4);
      ASSERT_EQ(a, b) << simd_target_name(bit) << " value " << i;
    }
  }
  simd_force_target(0);
}

}  // namespace
}  // namespace kinema
