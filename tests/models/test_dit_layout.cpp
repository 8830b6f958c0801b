// DiTConfig::layout_channels (kinema's addition to the Wan DiT): a layout map cut into the same
// patches as the latent and embedded by layout_embedding, added to the tokens. At zero it changes
// nothing (warm starts); its values are the Conv3d written out by hand; no layout is the zero map;
// its gradients agree with finite differences; misshapen layouts are refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "dit_test_util.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"

namespace kinema::test {
namespace {

constexpr int64_t kK = 3;  // layout channels in these tests

DiTConfig layout_config() {
  DiTConfig c = tiny_dit_config();
  c.layout_channels = kK;
  return c;
}

Tensor run(const DiT& m, const Tensor& layout, std::map<std::string, Tensor>* trace = nullptr) {
  DiTForwardOptions o;
  o.trace = trace;
  o.layout = layout;
  const DiTConfig& c = m.config();
  return m.forward(seeded({2, c.in_dim, 3, 4, 6}, 1), Tensor::from_vector({250.f, 800.f}, {2}),
                   seeded({2, 5, c.text_dim}, 2), o);
}

Tensor some_layout() { return seeded({2, kK, 3, 4, 6}, 31); }

// A grounded model whose layout path is not at zero (every init starts it there).
DiT grounded_model(uint64_t seed) {
  TensorFile f = DiT::init_random(layout_config(), seed, DiTInit::random).to_tensors();
  const int64_t D = f.tensors.at("layout_embedding.bias").size(0);
  f.tensors["layout_embedding.weight"] = seeded({D, kK, 1, 2, 2}, seed + 100);
  f.tensors["layout_embedding.bias"] = seeded({D}, seed + 101);
  return DiT::from_tensors(f, DiTLoadOptions{true});
}

TEST(DiTLayout, EveryParameterGetsAFiniteNonZeroGradient) {
  DiT m = grounded_model(5);
  ASSERT_TRUE(m.weights().count("layout_embedding.weight"));
  EXPECT_EQ(m.weight("layout_embedding.weight").shape(), (Shape{m.config().dim, kK, 1, 2, 2}));
  Tensor y = run(m, some_layout());
  backward(mse_loss(y, seeded(y.shape(), 3)));
  expect_gradients_everywhere(m.parameters(), dit_parameter_shapes(m.config()));
}

TEST(DiTLayout, AtZeroTheModelComputesWhatItDidWithoutIt) {
  const DiT plain = DiT::init_random(tiny_dit_config(), 7, DiTInit::random);
  const DiT grounded = grown_at_zero(plain, layout_config());
  EXPECT_EQ(grounded.config().layout_channels, kK);
  EXPECT_EQ(run(plain, Tensor()).to_vector(), run(grounded, some_layout()).to_vector());
  const int64_t D = plain.config().dim;
  EXPECT_EQ(DiT::init_random(layout_config(), 3).weight("layout_embedding.weight").to_vector(),
            std::vector<float>(size_t(D * kK * 4), 0.f));  // a fresh model starts at zero too
}

TEST(DiTLayout, NoLayoutIsTheAllZeroMap) {
  const DiT m = grounded_model(9);
  EXPECT_EQ(run(m, Tensor()).to_vector(), run(m, Tensor::zeros({2, kK, 3, 4, 6})).to_vector());
  EXPECT_NE(run(m, Tensor()).to_vector(), run(m, some_layout()).to_vector());
}

// The tokens move by sum over (k, dy, dx) of W[d, k, 0, dy, dx] * layout[b, k, t, 2h + dy, 2w + dx]
// + bias[d]: a Conv3d with kernel = stride = the 1x2x2 patch, written out.
TEST(DiTLayout, AddsTheConv3dOfEachTokensLayoutPatch) {
  const DiT plain = DiT::init_random(tiny_dit_config(), 7, DiTInit::random);
  TensorFile f = grown_at_zero(plain, layout_config()).to_tensors();
  const int64_t D = plain.config().dim;
  f.tensors["layout_embedding.weight"] = seeded({D, kK, 1, 2, 2}, 21);
  f.tensors["layout_embedding.bias"] = seeded({D}, 22);
  const DiT grounded = DiT::from_tensors(f);
  EXPECT_EQ(grounded.config().layout_channels, kK);  // inferred from the checkpoint's shapes
  const std::vector<float> w = f.tensors["layout_embedding.weight"].to_vector();
  const std::vector<float> b = f.tensors["layout_embedding.bias"].to_vector();
  const Tensor layout = some_layout();
  const std::vector<float> l = layout.to_vector();
  std::map<std::string, Tensor> with, without;
  run(grounded, layout, &with);
  run(plain, Tensor(), &without);
  const std::vector<float> a = with["patch_embedding"].to_vector(), z = without["patch_embedding"].to_vector();
  const int64_t T = 3, H = 4, W = 6, gh = 2, gw = 3, N = T * gh * gw;
  ASSERT_EQ(int64_t(a.size()), 2 * N * D);
  for (int64_t s = 0; s < 2; ++s)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t d : {int64_t(0), D / 3, D - 1}) {
        const int64_t t = n / (gh * gw), h = n / gw % gh, x = n % gw;
        double v = b[size_t(d)];
        for (int64_t k = 0; k < kK; ++k)
          for (int64_t dy = 0; dy < 2; ++dy)
            for (int64_t dx = 0; dx < 2; ++dx)
              v += double(w[size_t(((d * kK + k) * 2 + dy) * 2 + dx)]) *
                   l[size_t((((s * kK + k) * T + t) * H + 2 * h + dy) * W + 2 * x + dx)];
        EXPECT_NEAR(a[size_t((s * N + n) * D + d)] - z[size_t((s * N + n) * D + d)], v, 1e-4)
            << "sample " << s << " token " << n << " channel " << d;
      }
}

TEST(DiTLayout, GradientsMatchFiniteDifferences) {
  DiT m = grounded_model(11);
  const Tensor r = seeded({2, m.config().out_dim, 3, 4, 6}, 13);
  const Tensor layout = some_layout();
  auto objective = [&] { return sum(mul(run(m, layout), r)); };
  backward(objective());
  Tensor w = m.weight("layout_embedding.weight");
  const std::vector<float> g = w.grad().to_vector();
  for (int64_t i : {0L, 7L, 50L, 191L}) {
    const double fd = central_difference([&] { return objective().item(); }, w, i);
    EXPECT_NEAR(g[size_t(i)], fd, 2e-3 + 2e-2 * std::fabs(fd)) << "layout_embedding.weight[" << i << "]";
  }
}

TEST(DiTLayout, MisshapenLayoutsAndLayoutsWithoutAPathAreRefused) {
  const DiT grounded = DiT::init_random(layout_config(), 3, DiTInit::random);
  try {
    run(grounded, seeded({2, kK + 1, 3, 4, 6}, 4));
    FAIL() << "a layout with the wrong channel count was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layout"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run(grounded, seeded({2, kK, 3, 2, 6}, 4)), Error);  // wrong height
  const DiT plain = DiT::init_random(tiny_dit_config(), 3, DiTInit::random);
  try {
    run(plain, some_layout());
    FAIL() << "a layout was silently ignored";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no layout path"), std::string::npos) << e.what();
  }
  DiTConfig bad = layout_config();
  bad.layout_channels = -1;
  EXPECT_THROW(bad.validate(), Error);
}

}  // namespace
}  // namespace kinema::test
