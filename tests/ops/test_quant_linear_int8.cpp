// linear's int8 path on q8_0 / q4_0 weights (issue 8; backend/cpu/quant_int8.hpp): the
// activations quantized to int8 blocks of 32, integer dot products (AVX512-VNNI).
//   - the Highway activation quantizer equals its scalar twin bit for bit on every SIMD target;
//   - the VNNI GEMM equals its scalar twin (the same int32 block sums, the same f32 operations in
//     the same order) bit for bit, over shapes that cross every edge of the kernel: partial tiles
//     and units of columns, the column panel of 256, row groups of 6 and the row panel of 510,
//     chunks of 16 blocks of k,
//     M = 1, 1 and 2 threads, split by columns and by rows;
//   - int32 block sums are exact (unit scales, integer activations, weights down to -128);
//   - against x @ dequantize(w)^T in f32 (the exact path), each output is within the bound the
//     activation rounding allows, |dy| <= sum_b (d_b / 2) sum_j |w_bj| (plus f32 rounding), and
//     the normalised MSE of random activations is below 1e-4 (measured: about 1.5e-5);
//   - QuantizedLinear::dequantize and CPUs without VNNI take the exact path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend/cpu/kernels.hpp"
#include "backend/cpu/quant_int8.hpp"
#include "core/quant.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"

namespace kinema {
namespace {

std::vector<float> random_values(int64_t n, uint64_t seed, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 7;
  for (float& f : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    f = (float(x >> 40) / float(1 << 24) - 0.5f) * 2.f * scale;
  }
  return v;
}

Tensor random(const Shape& s, uint64_t seed, float scale) {
  return Tensor::from_vector(random_values(shape_numel(s), seed, scale), s);
}

// Runs the GEMM (vnni or its twin) on quantized x; y [m, n].
std::vector<float> gemm(const std::vector<float>& x, const Tensor& w, int64_t m, bool reference) {
  const int64_t n = w.size(0), k = w.size(1);
  std::vector<float> y(static_cast<size_t>(m * n), -1.f);
  linear_int8(x.data(), DType::f32, m, k, static_cast<const uint8_t*>(w.raw_data()), w.dtype(), n, y.data(), n,
              reference);
  return y;
}

class QuantLinearInt8 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cpu_has_int8_dot()) GTEST_SKIP() << "this CPU has no AVX512-VNNI";
  }
};

TEST(QuantLinearInt8Act, HighwayQuantizerEqualsScalarOnEveryTarget) {
  const int64_t n = 32 * 9;
  std::vector<float> x = random_values(n, 1, 3.f);
  for (int j = 32; j < 64; ++j) x[size_t(j)] = 0.f;                       // an all-zero block
  for (int j = 64; j < 96; ++j) x[size_t(j)] *= 1e-30f;                   // tiny values
  for (int j = 96; j < 128; ++j) x[size_t(j)] = float(j - 112) * 0.5f;    // ties x.5 after scaling
  x[130] = -1e30f;                                                        // huge
  std::vector<uint16_t> xb(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) xb[size_t(i)] = f32_to_bf16(x[size_t(i)]).bits;
  std::vector<uint8_t> q_ref(static_cast<size_t>(n)), qb_ref(static_cast<size_t>(n));
  std::vector<float> d_ref(static_cast<size_t>(n / 32)), db_ref(static_cast<size_t>(n / 32));
  quantize_act_q8_f32_ref(x.data(), q_ref.data(), d_ref.data(), n);
  quantize_act_q8_bf16_ref(xb.data(), qb_ref.data(), db_ref.data(), n);
  for (int j = 0; j < 32; ++j) {  // block 0 round-trips within half a step
    EXPECT_GE(q_ref[size_t(j)], 1);
    EXPECT_LE(std::fabs((float(q_ref[size_t(j)]) - 128.f) * d_ref[0] - x[size_t(j)]), d_ref[0] * 0.5f + 1e-6f);
  }
  EXPECT_EQ(d_ref[1], 0.f);
  const int64_t targets = simd_targets_available();
  for (int64_t bit = 1; bit != 0 && bit <= targets; bit <<= 1) {
    if (!(targets & bit)) continue;
    simd_force_target(bit);
    std::vector<uint8_t> q(static_cast<size_t>(n)), qb(static_cast<size_t>(n));
    std::vector<float> d(static_cast<size_t>(n / 32)), db(static_cast<size_t>(n / 32));
    quantize_act_q8_f32(x.data(), q.data(), d.data(), n);
    quantize_act_q8_bf16(xb.data(), qb.data(), db.data(), n);
    EXPECT_EQ(q, q_ref) << simd_target_name(bit);
    EXPECT_EQ(d, d_ref) << simd_target_name(bit);
    EXPECT_EQ(qb, qb_ref) << simd_target_name(bit);
    EXPECT_EQ(db, db_ref) << simd_target_name(bit);
  }
  simd_force_target(0);
}

// Unit scales and integer activations with a 127 in every block: y is the exact integer dot
// product, so every int32 block sum (and the -128 correction) shows exactly.
TEST_F(QuantLinearInt8, Int32BlockSumsAreExact) {
  const int64_t m = 7, n = 37, k = 96;
  std::vector<float> x(static_cast<size_t>(m * k));
  std::vector<int> xi(x.size());
  uint64_t s = 5;
  auto next = [&] { s ^= s << 13, s ^= s >> 7, s ^= s << 17; return s; };
  for (size_t i = 0; i < x.size(); ++i) xi[i] = i % 32 == 5 ? (i % 64 == 5 ? 127 : -127) : int(next() % 255) - 127;
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(xi[i]);
  for (DType wt : {DType::q8_0, DType::q4_0}) {
    const int64_t bb = int64_t(block_bytes(wt)), nb = k / 32;
    Tensor w = Tensor::empty({n, k}, wt);
    uint8_t* wp = static_cast<uint8_t*>(w.raw_data());
    std::vector<int> wi(static_cast<size_t>(n * k));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = wp + (r * nb + b) * bb;
        const uint16_t one = f32_to_f16(1.f).bits;
        std::memcpy(blk, &one, 2);
        for (int j = 0; j < 32; ++j) {
          const size_t i = size_t(r * k + b * 32 + j);
          if (wt == DType::q8_0) {
            wi[i] = j == 0 ? -128 : j == 1 ? 127 : int(next() % 256) - 128;
            blk[2 + j] = uint8_t(int8_t(wi[i]));
          } else {
            wi[i] = int(next() % 16) - 8;
            uint8_t& byte = blk[2 + j % 16];
            byte = j < 16 ? uint8_t((byte & 0xF0) | (wi[i] + 8)) : uint8_t((byte & 0x0F) | ((wi[i] + 8) << 4));
          }
        }
      }
    for (bool reference : {false, true}) {
      std::vector<float> y = gemm(x, w, m, reference);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          int64_t want = 0;
          for (int64_t l = 0; l < k; ++l) want += int64_t(xi[size_t(i * k + l)]) * wi[size_t(j * k + l)];
          ASSERT_EQ(y[size_t(i * n + j)], float(want)) << dtype_name(wt) << " row " << i << " col " << j;
        }
    }
  }
}

struct Shape3 {
  int64_t m, n, k;
};

// Every edge of the kernel's loops: columns 1..33 (partial tiles, one or two tiles in a unit),
// 100 and 300 (several units, split by columns); rows 1..13 (groups of 6 and their remainders)
// and 1600 (past several row panels of 510, split by rows when columns are few); k from one block to
// 33 blocks (chunks of 16 and a remainder of 1).
TEST_F(QuantLinearInt8, VnniEqualsScalarTwinBitForBit) {
  const Shape3 shapes[] = {{1, 1, 32},   {1, 300, 544},  {5, 17, 96},   {6, 16, 64},   {7, 33, 1056},
                           {13, 100, 512}, {1600, 40, 544}, {1600, 3, 64}, {64, 300, 160}};
  for (int threads : {1, 2}) {
    Context ctx(ContextOptions{threads});
    ContextScope scope(ctx);
    uint64_t seed = 10;
    for (const Shape3& sh : shapes)
      for (DType wt : {DType::q8_0, DType::q4_0}) {
        std::vector<float> x = random_values(sh.m * sh.k, seed++, 2.f);
        Tensor w = cast(random({sh.n, sh.k}, seed++, 0.1f), wt);
        std::vector<float> fast = gemm(x, w, sh.m, false), ref = gemm(x, w, sh.m, true);
        ASSERT_EQ(0, std::memcmp(fast.data(), ref.data(), fast.size() * 4))
            << "m " << sh.m << " n " << sh.n << " k " << sh.k << " " << dtype_name(wt) << ", " << threads << " threads";
      }
  }
}

// |y_int8 - y_exact| per output against the activation rounding's bound, and the normalised MSE.
void check_against_exact(const Tensor& x, const Tensor& w, const Tensor& y, double nmse_bound) {
  const int64_t k = w.size(1), n = w.size(0), m = x.numel() / k, nb = k / 32;
  const std::vector<float> xv = cast(x, DType::f32).to_vector(), yv = cast(y, DType::f32).to_vector();
  std::vector<float> wv(static_cast<size_t>(n * k));
  dequantize_row(w.raw_data(), wv.data(), n * k, int(w.dtype()));
  double num = 0, den = 0, worst = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0, bound = 0, mag = 0;
      for (int64_t b = 0; b < nb; ++b) {
        double amax = 0, wabs = 0;
        for (int l = 0; l < 32; ++l) {
          const double xe = xv[size_t(i * k + b * 32 + l)], we = wv[size_t(j * k + b * 32 + l)];
          exact += xe * we, mag += std::fabs(xe * we), amax = std::max(amax, std::fabs(xe)), wabs += std::fabs(we);
        }
        bound += amax / 127 / 2 * wabs;
      }
      const double err = std::fabs(double(yv[size_t(i * n + j)]) - exact);
      const double allowed = bound * (1 + 1e-5) + 1e-6 * mag + (y.dtype() == DType::bf16 ? std::fabs(exact) / 256 : 0);
      worst = std::max(worst, err / allowed);
      num += err * err, den += exact * exact;
    }
  EXPECT_LE(worst, 1.0) << "an output outside the activation rounding's bound";
  EXPECT_LE(num / den, nmse_bound);
  std::printf("  %s x %s: nmse %.2e, worst error / bound %.2f\n", std::string(dtype_name(x.dtype())).c_str(),
              std::string(dtype_name(w.dtype())).c_str(), num / den, worst);
}

TEST_F(QuantLinearInt8, WithinTheActivationRoundingOfTheExactProduct) {
  for (DType wt : {DType::q8_0, DType::q4_0})
    for (DType xt : {DType::f32, DType::bf16}) {
      Tensor x = cast(random({3, 41, 512}, 20, 1.f), xt);
      Tensor w = cast(random({70, 512}, 21, 0.05f), wt);
      Tensor y = linear(x, w);
      EXPECT_EQ(y.dtype(), xt);
      EXPECT_EQ(y.shape(), (Shape{3, 41, 70}));
      check_against_exact(x, w, y, xt == DType::bf16 ? 2e-4 : 1e-4);
    }
  // Heavy tails: one large value per block makes every other value's step coarse.
  std::vector<float> v = random_values(16 * 256, 22, 1.f);
  for (size_t i = 0; i < v.size(); i += 32) v[i] = 30.f;
  Tensor x = Tensor::from_vector(v, {16, 256});
  Tensor w = cast(random({48, 256}, 23, 0.05f), DType::q8_0);
  check_against_exact(x, w, linear(x, w), 1e-2);
}

// M = 1 (a decode-like product) and a 1-D input, with a bias.
TEST_F(QuantLinearInt8, OneRowAndOneDimensionalInput) {
  Tensor w = cast(random({130, 256}, 30, 0.05f), DType::q8_0);
  Tensor b = random({130}, 31, 0.1f);
  Tensor x = random({256}, 32, 1.f);
  Tensor y = linear(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{130}));
  Tensor y2 = linear(reshape(x, {1, 256}), w, b);
  EXPECT_EQ(y.to_vector(), reshape(y2, {130}).to_vector());
  check_against_exact(reshape(x, {1, 256}), w, sub(y2, reshape(b, {1, 130})), 1e-4);
}

// Activations whose blocks hold multiples of a step with a 127 step in each: the int8 path is
// then exact up to f32 rounding, which pins the result to the f32 product independently of the
// scalar twin.
TEST_F(QuantLinearInt8, ExactWhenActivationsAreOnTheGrid) {
  const int64_t m = 37, k = 1056, n = 45;
  std::vector<float> v = random_values(m * k, 40, 1.f);
  for (size_t i = 0; i < v.size(); ++i) {
    const float step = 0.01f * float(1 + (i / 32) % 7);
    v[i] = i % 32 == 3 ? 127 * step : std::nearbyint(v[i] * 127) * step;
  }
  Tensor x = Tensor::from_vector(v, {m, k});
  for (DType wt : {DType::q8_0, DType::q4_0}) {
    Tensor w = cast(random({n, k}, 41, 0.05f), wt);
    std::vector<float> got = linear(x, w).to_vector(), want = linear(x, cast(w, DType::f32)).to_vector();
    double diff = 0, scale = 0;
    for (size_t i = 0; i < got.size(); ++i)
      diff = std::max(diff, double(std::fabs(got[i] - want[i]))), scale = std::max(scale, double(std::fabs(want[i])));
    EXPECT_LE(diff / scale, 2e-6) << dtype_name(wt);
  }
}

// QuantizedLinear::dequantize and a CPU without VNNI both run the exact path.
TEST(QuantLinearInt8Path, DequantizeModeAndNoVnniRunTheExactPath) {
  Tensor x = random({9, 320}, 50, 1.f);
  Tensor w = cast(random({50, 320}, 51, 0.05f), DType::q8_0);
  Tensor exact;
  {
    QuantizedLinearScope mode(QuantizedLinear::dequantize);
    exact = linear(x, w);
  }
  const std::vector<float> want = linear(x, cast(w, DType::f32)).to_vector(), got = exact.to_vector();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f * (1 + std::fabs(want[i])));
  int8_dot_force_disabled(true);
  EXPECT_FALSE(cpu_has_int8_dot());
  const std::vector<float> fallback = linear(x, w).to_vector();
  int8_dot_force_disabled(false);
  EXPECT_EQ(fallback, got) << "without VNNI, linear must take the dequantize path";
  if (cpu_has_int8_dot()) {
    EXPECT_NE(linear(x, w).to_vector(), got) << "the int8 path should be the default";
  }
}

TEST(QuantLinearInt8Path, EnvironmentChoosesThePath) {
  ::setenv("KINEMA_QUANT_LINEAR", "dequantize", 1);
  EXPECT_EQ(Context().quantized_linear(), QuantizedLinear::dequantize);
  ::setenv("KINEMA_QUANT_LINEAR", "int8", 1);
  EXPECT_EQ(Context(ContextOptions{0, false, size_t(1) << 20, QuantizedLinear::dequantize}).quantized_linear(),
            QuantizedLinear::int8);
  ::setenv("KINEMA_QUANT_LINEAR", "fast", 1);
  EXPECT_THROW(Context(), Error);
  ::unsetenv("KINEMA_QUANT_LINEAR");
  EXPECT_EQ(Context().quantized_linear(), QuantizedLinear::int8);
}

}  // namespace
}  // namespace kinema
