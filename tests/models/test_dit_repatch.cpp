// repatch_dit: DiT weights carried to a smaller patch (a warm start with more tokens per object).
// Closed forms: on a latent constant over each coarse patch, the finer model's patch tokens are
// the coarse model's token of the patch they lie in, and (with no blocks between) its output at
// each latent voxel is the mean of the coarse model's outputs over that patch.
#include <gtest/gtest.h>

#include "dit_test_util.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"

namespace kinema::test {
namespace {

// [1, C, T, H, W] with each 1 x 2 x 2 block one value per channel.
Tensor block_constant(int64_t C, int64_t T, int64_t H, int64_t W) {
  const std::vector<float> coarse = seeded({C, T, H / 2, W / 2}, 11).to_vector();
  std::vector<float> v(size_t(C * T * H * W));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          v[size_t(((c * T + t) * H + h) * W + w)] = coarse[size_t(((c * T + t) * (H / 2) + h / 2) * (W / 2) + w / 2)];
  return Tensor::from_vector(v, {1, C, T, H, W});
}

struct Traced {
  Tensor out;
  std::map<std::string, Tensor> trace;
};

Traced run(const DiT& m, const Tensor& x) {
  Traced r;
  DiTForwardOptions o;
  o.trace = &r.trace;
  r.out = m.forward(x, Tensor::from_vector({400.f}, {1}), seeded({1, 5, m.config().text_dim}, 2), o);
  return r;
}

DiT repatched(const DiT& coarse, std::array<int64_t, 3> patch) {
  TensorFile f = coarse.to_tensors();
  repatch_dit(f, patch);
  return DiT::from_tensors(f);
}

TEST(DiTRepatch, FinerTokensEmbedABlockConstantLatentAsTheirPatchDid) {
  const DiT coarse = DiT::init_random(tiny_dit_config(), 3, DiTInit::random);
  const DiT fine = repatched(coarse, {1, 1, 1});
  EXPECT_EQ(fine.config().patch_size, (std::array<int64_t, 3>{1, 1, 1}));
  const int64_t T = 2, H = 4, W = 6, D = coarse.config().dim;
  const Tensor x = block_constant(coarse.config().in_dim, T, H, W);
  const std::vector<float> a = run(coarse, x).trace.at("patch_embedding").to_vector();  // [1, T*H/2*W/2, D]
  const std::vector<float> b = run(fine, x).trace.at("patch_embedding").to_vector();    // [1, T*H*W, D]
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t d = 0; d < D; ++d)
          ASSERT_NEAR(b[size_t(((t * H + h) * W + w) * D + d)],
                      a[size_t(((t * (H / 2) + h / 2) * (W / 2) + w / 2) * D + d)], 1e-5)
              << "t " << t << " h " << h << " w " << w;
}

TEST(DiTRepatch, WithoutBlocksEachVoxelGetsTheMeanOfItsPatchsOutputs) {
  DiTConfig c = tiny_dit_config();
  c.num_layers = 0;
  const DiT coarse = DiT::init_random(c, 4, DiTInit::random);
  const DiT fine = repatched(coarse, {1, 1, 1});
  const int64_t T = 2, H = 4, W = 4, C = c.out_dim;
  const Tensor x = block_constant(c.in_dim, T, H, W);
  const std::vector<float> a = run(coarse, x).out.to_vector(), b = run(fine, x).out.to_vector();  // [1, C, T, H, W]
  auto at = [&](const std::vector<float>& v, int64_t ch, int64_t t, int64_t h, int64_t w) {
    return v[size_t(((ch * T + t) * H + h) * W + w)];
  };
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          const int64_t h0 = h / 2 * 2, w0 = w / 2 * 2;
          const float mean = (at(a, ch, t, h0, w0) + at(a, ch, t, h0, w0 + 1) + at(a, ch, t, h0 + 1, w0) +
                              at(a, ch, t, h0 + 1, w0 + 1)) / 4;
          ASSERT_NEAR(at(b, ch, t, h, w), mean, 1e-5) << "c " << ch << " t " << t << " h " << h << " w " << w;
        }
}

TEST(DiTRepatch, KeepsTheBodyAndRefusesAPatchThatDoesNotDivide) {
  const DiT coarse = DiT::init_random(tiny_dit_config(), 5, DiTInit::random);
  TensorFile f = coarse.to_tensors();
  repatch_dit(f, {1, 2, 2});  // the same patch: nothing changes
  EXPECT_EQ(f.tensors.at("head.head.weight").to_vector(), coarse.weight("head.head.weight").to_vector());
  repatch_dit(f, {1, 1, 1});
  EXPECT_EQ(f.tensors.at("blocks.1.ffn.0.weight").to_vector(), coarse.weight("blocks.1.ffn.0.weight").to_vector());
  TensorFile g = coarse.to_tensors();
  try {
    repatch_dit(g, {1, 3, 2});
    FAIL() << "patch 3 does not divide 2";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must divide the old one"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kinema::test
