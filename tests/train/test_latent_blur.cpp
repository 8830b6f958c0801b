// The outline-blind inputs' spatial blur against closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/latent_blur.hpp"

namespace kinema {
namespace {

TEST(LatentBlur, ConstantPlanesStayConstantUpToTheEdges) {
  std::vector<float> v(2 * 5 * 7);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i < 35 ? 0.75f : -2.f;
  gaussian_blur_planes(v.data(), 2, 5, 7, 1.7f);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], i < 35 ? 0.75f : -2.f, 1e-6f) << i;
}

TEST(LatentBlur, AnImpulseBecomesTheNormalisedSeparableGaussian) {
  const int64_t H = 15, W = 17, cy = 7, cx = 8;
  const float sigma = 1.3f;
  std::vector<float> v(size_t(H * W), 0.f);
  v[size_t(cy * W + cx)] = 1.f;
  gaussian_blur_planes(v.data(), 1, H, W, sigma);
  const int r = int(std::ceil(3 * sigma));  // taps reach 3 sigma
  double norm = 0;
  for (int d = -r; d <= r; ++d) norm += std::exp(-0.5 * d * d / (sigma * sigma));
  double total = 0;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const int64_t dy = y - cy, dx = x - cx;
      const double expect = std::abs(dy) > r || std::abs(dx) > r
                                ? 0.0
                                : std::exp(-0.5 * double(dy * dy + dx * dx) / (sigma * sigma)) / (norm * norm);
      EXPECT_NEAR(v[size_t(y * W + x)], expect, 1e-6) << y << "," << x;
      total += v[size_t(y * W + x)];
    }
  EXPECT_NEAR(total, 1.0, 1e-5);  // an interior impulse keeps its mass
}

TEST(LatentBlur, ZeroSigmaLeavesThePlanesAlone) {
  std::vector<float> v{1, -2, 3, 4, 5, -6};
  const std::vector<float> before = v;
  gaussian_blur_planes(v.data(), 1, 2, 3, 0.f);
  EXPECT_EQ(v, before);
}

}  // namespace
}  // namespace kinema
