// widen_vae: a VAE at twice the width that computes the same latents and decodes (so a DiT
// trained on the narrow one's latents stays valid), whose copied channels grow apart under
// training; it loads with the doubled width inferred, and trains.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/vae_train.hpp"
#include "vae_test_util.hpp"
#include "kinema/world_latents.hpp"

namespace kinema {
namespace {

VaeConfig tiny_vae() {
  VaeConfig c;
  c.dim = 8, c.z_dim = 4, c.dim_mult = {1, 2, 2}, c.num_res_blocks = 1, c.temporal_downsample = {false, true};
  c.latents_mean = {0.1f, -0.2f, 0.3f, 0.f}, c.latents_std = {1.f, 2.f, 0.5f, 1.5f};
  return c;  // x4 space, x2 time: both resamplers, time convs and the middle attention
}

using test::relative_error;
using test::seeded;

TEST(VaeWiden, TheWideVaeEncodesAndDecodesAsTheNarrowOne) {
  // VaeInit::random: every gamma, bias and attention projection non-zero, so each one matters
  const VAE narrow = VAE::init_random(tiny_vae(), 3, VaeInit::random);
  const VAE wide = VAE::from_tensors(widen_vae(narrow.to_tensors(), 7));
  EXPECT_EQ(wide.config().dim, 16);
  EXPECT_EQ(wide.config().latents_mean, narrow.config().latents_mean);
  const Tensor video = seeded({1, 3, 5, 16, 16}, 1);
  for (VaeChunking chunking : {VaeChunking::causal, VaeChunking::whole}) {
    VaeRunOptions o;
    o.chunking = chunking;
    const VaeLatent a = narrow.encode(video, o), b = wide.encode(video, o);
    std::printf("  mu %.1e, logvar %.1e, decode %.1e (relative L2)\n", relative_error(b.mu, a.mu),
                relative_error(b.logvar, a.logvar), relative_error(wide.decode(a.mu, o), narrow.decode(a.mu, o)));
    EXPECT_LT(relative_error(b.mu, a.mu), 1e-5);
    EXPECT_LT(relative_error(b.logvar, a.logvar), 1e-5);
    EXPECT_LT(relative_error(wide.decode(a.mu, o), narrow.decode(a.mu, o)), 1e-5);
  }
  // a mutation check of the bar: a wide VAE from another narrow one is far off
  const VAE other = VAE::from_tensors(widen_vae(VAE::init_random(tiny_vae(), 4, VaeInit::random).to_tensors()));
  EXPECT_GT(relative_error(other.encode(video).mu, narrow.encode(video).mu), 0.1);
}

TEST(VaeWiden, DecoderOnlyKeepsTheEncoderAndDecodesAsBefore) {
  const VAE narrow = VAE::init_random(tiny_vae(), 3, VaeInit::random);
  const VAE wide = VAE::from_tensors(widen_vae(narrow.to_tensors(), 7, true));
  EXPECT_EQ(wide.config().dim, 8);
  EXPECT_EQ(wide.config().decoder_width(), 16);
  for (const auto& [name, w] : narrow.weights()) {
    if (is_vae_decoder_key(name)) continue;
    EXPECT_EQ(wide.weight(name).to_vector(), w.to_vector()) << name;
  }
  EXPECT_EQ(world::vae_encoder_hash(wide), world::vae_encoder_hash(narrow));  // a DiT's latent cache stays
  const VAE whole = VAE::from_tensors(widen_vae(narrow.to_tensors(), 7));
  EXPECT_NE(world::vae_encoder_hash(whole), world::vae_encoder_hash(narrow));
  const Tensor z = seeded({1, 4, 3, 4, 4}, 2);
  EXPECT_LT(relative_error(wide.decode(z), narrow.decode(z)), 1e-5);
}

// Copies start equal but are split unevenly downstream, so their gradients differ.
TEST(VaeWiden, CopiedChannelsGetDifferentGradients) {
  const VAE narrow = VAE::init_random(tiny_vae(), 3, VaeInit::random);
  const VAE wide = VAE::from_tensors(widen_vae(narrow.to_tensors()), VaeLoadOptions{true});
  const Tensor video = seeded({1, 3, 5, 16, 16}, 1);
  backward(mean(square(sub(wide.decode(wide.encode(video).mu), video))));
  // encoder.conv1: [16, 3, 3, 3, 3]; output channel j and j + 8 are copies
  const Tensor w = wide.weight("encoder.conv1.weight");
  const std::vector<float> wv = w.to_vector(), g = w.grad().to_vector();
  const size_t row = size_t(shape_numel(w.shape()) / 16);
  double weight_gap = 0, grad_gap = 0, grad_norm = 0;
  for (size_t j = 0; j < 8 * row; ++j) {
    weight_gap += std::fabs(wv[j] - wv[j + 8 * row]);
    grad_gap += std::fabs(g[j] - g[j + 8 * row]);
    grad_norm += std::fabs(g[j]);
  }
  EXPECT_EQ(weight_gap, 0);                 // the copies start equal
  EXPECT_GT(grad_gap, 0.05 * grad_norm);    // and move apart
}

TEST(VaeWiden, RefusesWhatItCannotWiden) {
  TensorFile f = VAE::init_random(tiny_vae(), 3).to_tensors();
  f.tensors.erase("decoder.head.2.weight");
  EXPECT_THROW(widen_vae(f), Error);
  VaeConfig patched = tiny_vae();
  patched.patch_size = 2;  // 12 pixel channels into encoder.conv1
  try {
    widen_vae(VAE::init_random(patched, 3).to_tensors());
    FAIL() << "a VAE on patchified pixels was widened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("patchifies"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kinema
