// The optimizer's SIMD passes (AdamW, EMA, sum of squares) against their plain-loop twins on
// every SIMD target this CPU runs, including the one-lane tails and NaN/Inf/overflow input.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backend/cpu/kernels.hpp"

namespace kinema {
namespace {

std::vector<float> randoms(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

template <class F>
void for_each_target(F f) {
  const int64_t targets = simd_targets_available();
  for (int64_t bit = 1; bit != 0 && bit <= targets; bit <<= 1)
    if (targets & bit) {
      simd_force_target(bit);
      f(simd_target_name(bit));
    }
  simd_force_target(0);
}

// Within a few float roundings of the terms' size `scale` (a sum of terms may cancel, so the
// result's own size is no yardstick).
void expect_close(const std::vector<float>& got, const std::vector<float>& want, float scale, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 4e-7f * scale) << what << " element " << i;
}

TEST(OptimizerKernels, AdamWUpdateMatchesTheFormulaOnEveryTarget) {
  const size_t n = 1000 + 13;  // a one-lane tail on every vector width
  const AdamWCoeffs k{0.9f, 0.999f, 1.f - std::pow(0.9f, 7.f), 1.f - std::pow(0.999f, 7.f), 1.f - 1e-3f * 0.01f,
                      1e-3f, 1e-8f};
  const std::vector<float> p0 = randoms(n, 1, 1.f), g = randoms(n, 2, 0.1f), m0 = randoms(n, 3, 0.01f);
  std::vector<float> v0 = randoms(n, 4, 0.01f);
  for (float& x : v0) x = x * x;
  std::vector<float> p_ref = p0, m_ref = m0, v_ref = v0;
  adamw_update_f32_ref(p_ref.data(), g.data(), m_ref.data(), v_ref.data(), int64_t(n), k);
  for_each_target([&](const char* target) {
    SCOPED_TRACE(target);
    std::vector<float> p = p0, m = m0, v = v0;
    adamw_update_f32(p.data(), g.data(), m.data(), v.data(), int64_t(n), k);
    expect_close(m, m_ref, 0.5f, "m");  // |g| < 0.5
    expect_close(v, v_ref, 0.25f, "v");
    expect_close(p, p_ref, 5.f, "p");
    // The update moved every weight (a kernel that skips the store would leave p0).
    size_t moved = 0;
    for (size_t i = 0; i < n; ++i) moved += p[i] != p0[i];
    EXPECT_EQ(moved, n);
  });
}

TEST(OptimizerKernels, EmaUpdateMatchesTheFormulaOnEveryTarget) {
  const size_t n = 517;
  const std::vector<float> e0 = randoms(n, 5, 1.f), p = randoms(n, 6, 1.f);
  std::vector<float> want = e0;
  ema_update_f32_ref(want.data(), p.data(), int64_t(n), 0.999f);
  for_each_target([&](const char* target) {
    SCOPED_TRACE(target);
    std::vector<float> e = e0;
    ema_update_f32(e.data(), p.data(), int64_t(n), 0.999f);
    expect_close(e, want, 5.f, "ema");
  });
}

TEST(OptimizerKernels, SquaredSumIsNonFiniteOnlyForNaNOrInfElements) {
  std::vector<float> x = randoms(3 * 4096 + 77, 7, 1.f);
  const double want = squared_sum_f32_ref(x.data(), int64_t(x.size()));
  std::vector<float> big = x;
  big[5000] = 3e20f;  // its square overflows float but not double
  const double want_big = squared_sum_f32_ref(big.data(), int64_t(big.size()));
  for_each_target([&](const char* target) {
    SCOPED_TRACE(target);
    EXPECT_NEAR(squared_sum_f32(x.data(), int64_t(x.size())), want, 1e-5 * want);
    EXPECT_NEAR(squared_sum_f32(x.data(), 3), squared_sum_f32_ref(x.data(), 3), 1e-6);
    EXPECT_EQ(squared_sum_f32(x.data(), 0), 0.0);
    const double got_big = squared_sum_f32(big.data(), int64_t(big.size()));
    EXPECT_TRUE(std::isfinite(got_big));
    EXPECT_NEAR(got_big, want_big, 1e-6 * want_big);
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      std::vector<float> y = x;
      y[8191] = bad;
      EXPECT_FALSE(std::isfinite(squared_sum_f32(y.data(), int64_t(y.size())))) << bad;
    }
  });
}

}  // namespace
}  // namespace kinema
