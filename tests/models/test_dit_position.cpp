// DiTConfig::absolute_position (kinema's addition to the Wan DiT): each token's normalised place
// in the frame, as Fourier features through pos_embedding, added after patch_embedding. At zero it
// changes nothing (warm starts); its values are the closed form; the same place gets the same
// features at every grid size; its gradients agree with finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "dit_test_util.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"

namespace kinema::test {
namespace {

DiTConfig position_config() {
  DiTConfig c = tiny_dit_config();
  c.absolute_position = true;
  return c;
}

Tensor run(const DiT& m, int64_t H = 4, int64_t W = 6, std::map<std::string, Tensor>* trace = nullptr) {
  DiTForwardOptions o;
  o.trace = trace;
  const DiTConfig& c = m.config();
  return m.forward(seeded({2, c.in_dim, 3, H, W}, 1), Tensor::from_vector({250.f, 800.f}, {2}),
                   seeded({2, 5, c.text_dim}, 2), o);
}

TEST(DiTPosition, EveryParameterGetsAFiniteNonZeroGradient) {
  DiT m = DiT::init_random(position_config(), 5, DiTInit::random);
  ASSERT_TRUE(m.weights().count("pos_embedding.weight"));
  EXPECT_EQ(m.weight("pos_embedding.weight").shape(), (Shape{m.config().dim, kDiTPositionFeatures}));
  Tensor y = run(m);
  backward(mse_loss(y, seeded(y.shape(), 3)));
  expect_gradients_everywhere(m.parameters(), dit_parameter_shapes(m.config()));
}

TEST(DiTPosition, AtZeroTheModelComputesWhatItDidWithoutIt) {
  const DiT plain = DiT::init_random(tiny_dit_config(), 7, DiTInit::random);
  const DiT placed = grown_at_zero(plain, position_config());
  EXPECT_TRUE(placed.config().absolute_position);
  EXPECT_FALSE(plain.config().absolute_position);
  EXPECT_EQ(run(plain).to_vector(), run(placed).to_vector());
  const int64_t D = plain.config().dim;
  EXPECT_EQ(DiT::init_random(position_config(), 3).weight("pos_embedding.weight").to_vector(),
            std::vector<float>(size_t(D * kDiTPositionFeatures), 0.f));  // a fresh model starts at zero too
}

// The tokens after patch_embedding move by W f + b, f = (sin, cos)(pi k x), (sin, cos)(pi k y),
// k = 1..4, at the patch centre's normalised (x, y): the same at every frame, and the same
// place (the top-left quarter's centre, say) gets the same features on a grid twice as fine.
TEST(DiTPosition, AddsTheClosedFormFeaturesOfEachTokensNormalisedPlace) {
  const DiT plain = DiT::init_random(tiny_dit_config(), 7, DiTInit::random);
  TensorFile f = plain.to_tensors();
  const int64_t D = plain.config().dim, F = kDiTPositionFeatures;
  f.tensors["pos_embedding.weight"] = seeded({D, F}, 21);
  f.tensors["pos_embedding.bias"] = seeded({D}, 22);
  const DiT placed = DiT::from_tensors(f);
  const std::vector<float> w = f.tensors["pos_embedding.weight"].to_vector(), b = f.tensors["pos_embedding.bias"].to_vector();
  auto expected = [&](double x, double y, int64_t d) {
    double v = b[size_t(d)];
    for (int64_t k = 1; k <= 4; ++k) {
      const double a = M_PI * double(k), feats[4] = {std::sin(a * x), std::cos(a * x), std::sin(a * y), std::cos(a * y)};
      for (int j = 0; j < 4; ++j) v += w[size_t(d * F + 4 * (k - 1) + j)] * feats[j];
    }
    return v;
  };
  for (auto [H, W] : {std::pair<int64_t, int64_t>{4, 6}, {8, 12}}) {
    std::map<std::string, Tensor> with, without;
    run(placed, H, W, &with);
    run(plain, H, W, &without);
    const std::vector<float> a = with["patch_embedding"].to_vector(), z = without["patch_embedding"].to_vector();
    const int64_t gh = H / 2, gw = W / 2, N = 3 * gh * gw;  // patch 1x2x2, 3 frames
    ASSERT_EQ(int64_t(a.size()), 2 * N * D);
    for (int64_t n : {int64_t(0), gw + 1, N - 1, 2 * gh * gw + gw - 1})
      for (int64_t d : {int64_t(0), D / 2, D - 1}) {
        const double x = (double(n % gw) + 0.5) / double(gw) * 2 - 1, y = (double(n / gw % gh) + 0.5) / double(gh) * 2 - 1;
        for (int64_t s = 0; s < 2; ++s)
          EXPECT_NEAR(a[size_t((s * N + n) * D + d)] - z[size_t((s * N + n) * D + d)], expected(x, y, d), 1e-4)
              << H << "x" << W << " token " << n << " channel " << d;
      }
  }
}

TEST(DiTPosition, GradientsMatchFiniteDifferences) {
  DiT m = DiT::init_random(position_config(), 11, DiTInit::random);
  const Tensor r = seeded({2, m.config().out_dim, 3, 4, 6}, 13);
  auto objective = [&] { return sum(mul(run(m), r)); };
  backward(objective());
  Tensor w = m.weight("pos_embedding.weight");
  const std::vector<float> g = w.grad().to_vector();
  for (int64_t i : {0L, 5L, 40L, 127L}) {
    const double fd = central_difference([&] { return objective().item(); }, w, i);
    EXPECT_NEAR(g[size_t(i)], fd, 2e-3 + 2e-2 * std::fabs(fd)) << "pos_embedding.weight[" << i << "]";
  }
}

}  // namespace
}  // namespace kinema::test
