// linear on q8_0 / q4_0 weights (issue 8), the exact path (QuantizedLinear::dequantize): it
// dequantizes the weight panel by panel with a SIMD kernel and runs one GEMM per panel; the
// reference dequantizes the whole weight (cast) and multiplies. The shapes cross the panel
// boundary (a weight wider than one panel, the last panel partial), so a wrong panel offset, row
// stride or output column shows. The int8 path (the default) is test_quant_linear_int8.cpp's.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cpu/kernels.hpp"
#include "core/quant.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/ops.hpp"

namespace kinema {
namespace {

Tensor random(const Shape& s, uint64_t seed, float scale) {
  std::vector<float> v(size_t(shape_numel(s)));
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 7;
  for (float& f : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    f = (float(x >> 40) / float(1 << 24) - 0.5f) * 2.f * scale;
  }
  return Tensor::from_vector(v, s);
}

// max |a - b| / max |b|
double rel_err(const Tensor& a, const Tensor& b) {
  std::vector<float> x = cast(a, DType::f32).to_vector(), y = cast(b, DType::f32).to_vector();
  EXPECT_EQ(x.size(), y.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    diff = std::max(diff, std::fabs(double(x[i]) - double(y[i])));
    scale = std::max(scale, std::fabs(double(y[i])));
  }
  return diff / scale;
}

TEST(QuantLinear, SimdDequantizeEqualsScalarBitForBit) {
  for (DType q : {DType::q8_0, DType::q4_0}) {
    Tensor w = cast(random({7, 96}, 1, 3.f), q);
    std::vector<float> ref(size_t(w.numel())), fast(size_t(w.numel()));
    dequantize_row(w.raw_data(), ref.data(), w.numel(), int(q));
    dequantize_row_f32(w.raw_data(), fast.data(), w.numel(), q);
    EXPECT_EQ(0, std::memcmp(ref.data(), fast.data(), ref.size() * 4)) << dtype_name(q);
  }
}

// K 4096: a panel is 4096 rows of f32, so 4176 outputs take two panels, the second 80 rows.
TEST(QuantLinear, F32EqualsDequantizedWeightAcrossPanels) {
  QuantizedLinearScope exact(QuantizedLinear::dequantize);
  const int64_t K = 4096, N = 4176;
  Tensor x = random({2, 3, K}, 2, 1.f);
  Tensor b = random({N}, 3, 0.1f);
  for (DType q : {DType::q8_0, DType::q4_0}) {
    Tensor w = cast(random({N, K}, 4, 0.05f), q);
    Tensor ref = linear(x, cast(w, DType::f32), b);  // the whole weight dequantized
    Tensor out = linear(x, w, b);
    ASSERT_EQ(out.shape(), ref.shape());
    EXPECT_EQ(out.dtype(), DType::f32);
    EXPECT_LE(rel_err(out, ref), 1e-5) << dtype_name(q);  // the same f32 products, summed in another order
    // The last panel's last column and a 1-D input.
    Tensor x1 = slice(reshape(x, {6, K}), 0, 5, 6);
    EXPECT_LE(rel_err(linear(reshape(x1, {K}), w), linear(reshape(x1, {K}), cast(w, DType::f32))), 1e-5);
  }
}

TEST(QuantLinear, Bf16EqualsDequantizedWeightWithinBf16Rounding) {
  QuantizedLinearScope exact(QuantizedLinear::dequantize);
  const int64_t K = 4096, N = 4176;
  Tensor x = cast(random({5, K}, 5, 1.f), DType::bf16);
  Tensor w = cast(random({N, K}, 6, 0.05f), DType::q8_0);
  Tensor out = linear(x, w);
  EXPECT_EQ(out.dtype(), DType::bf16);
  Tensor ref = linear(cast(x, DType::f32), cast(w, DType::f32));  // f32 throughout
  EXPECT_LE(rel_err(out, ref), 3 * std::ldexp(1.0, -8));  // the output's and (bf16 compute) the weight's rounding
}

TEST(QuantLinear, GradientOfInputThroughDequantizedWeight) {
  const int64_t K = 64, N = 40;
  Tensor w = cast(random({N, K}, 7, 0.2f), DType::q4_0), wf = cast(w, DType::f32);
  Tensor x = random({3, K}, 8, 1.f).set_requires_grad(), xr = random({3, K}, 8, 1.f).set_requires_grad();
  Tensor g = random({3, N}, 9, 1.f);
  backward(linear(x, w), g);
  backward(linear(xr, wf), g);
  ASSERT_TRUE(x.grad().defined());
  EXPECT_LE(rel_err(x.grad(), xr.grad()), 1e-6);
}

}  // namespace
}  // namespace kinema
