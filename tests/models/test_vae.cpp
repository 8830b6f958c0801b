// VAE: chunked processing equals whole-clip processing, an image is a one-frame video, tiled
// decode stays close to untiled, gradients reach every parameter, a tiny clip overfits, the
// config round-trips through checkpoint names and shapes, and bad checkpoints or inputs fail
// with errors naming the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "dit_test_util.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/optim.hpp"
#include "vae_test_util.hpp"

namespace kinema::test {
namespace {

template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A smooth moving pattern in [-1, 1]: something a tiny VAE can learn to reconstruct.
Tensor moving_pattern(int64_t T, int64_t H, int64_t W) {
  std::vector<float> v(size_t(3 * T * H * W));
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          v[size_t(((c * T + t) * H + y) * W + x)] =
              0.8f * std::sin(0.4f * float(x + t) + 1.3f * float(c)) * std::cos(0.3f * float(y) - 0.2f * float(t));
  return Tensor::from_vector(v, {1, 3, T, H, W});
}

TEST(Vae, ChunkedProcessingEqualsWholeClip) {
  VAE model = VAE::init_random(tiny_vae_config(), 7, VaeInit::random);
  NoGradGuard ng;
  Tensor video = seeded({1, 3, 13, 16, 16}, 3);  // frame 0 + three chunks of 4
  VaeRunOptions whole;
  whole.chunking = VaeChunking::whole;
  VaeLatent a = model.encode(video), b = model.encode(video, whole);
  ASSERT_EQ(a.mu.shape(), (Shape{1, 4, 4, 2, 2}));
  double e_mu = max_rel_error(a.mu, b.mu), e_lv = max_rel_error(a.logvar, b.logvar);
  Tensor z = seeded({1, 4, 4, 2, 2}, 4);
  Tensor x1 = model.decode(z), x2 = model.decode(z, whole);
  ASSERT_EQ(x1.shape(), (Shape{1, 3, 13, 16, 16}));
  double e_x = max_rel_error(x1, x2);
  std::printf("  chunked vs whole: mu %.3e, logvar %.3e, decoded video %.3e (max rel)\n", e_mu, e_lv, e_x);
  EXPECT_LE(e_mu, 1e-5);
  EXPECT_LE(e_lv, 1e-5);
  EXPECT_LE(e_x, 1e-5);
}

// Causality: frame 0 is encoded alone, so an image's latent is the first latent frame of any
// video starting with that image; and decoding one latent frame gives the first frame of any
// longer decode.
TEST(Vae, AnImageIsAOneFrameVideo) {
  VAE model = VAE::init_random(tiny_vae_config(), 8, VaeInit::random);
  NoGradGuard ng;
  Tensor video = seeded({1, 3, 5, 16, 16}, 5);
  Tensor image = contiguous(slice(video, 2, 0, 1));  // [1, 3, 1, 16, 16]
  VaeLatent li = model.encode(image), lv = model.encode(video);
  ASSERT_EQ(li.mu.shape(), (Shape{1, 4, 1, 2, 2}));
  double e_enc = max_rel_error(li.mu, slice(lv.mu, 2, 0, 1));
  Tensor z = seeded({1, 4, 3, 2, 2}, 6);
  Tensor one = model.decode(contiguous(slice(z, 2, 0, 1))), all = model.decode(z);
  ASSERT_EQ(one.shape(), (Shape{1, 3, 1, 16, 16}));
  double e_dec = max_rel_error(one, slice(all, 2, 0, 1));
  std::printf("  image vs first frame of a video: encode %.3e, decode %.3e\n", e_enc, e_dec);
  EXPECT_LE(e_enc, 1e-6);
  EXPECT_LE(e_dec, 1e-6);
}

struct TileError {
  double max_rel = 0, mean_rel = 0;  // max |Δ| / max |ref|, sum |Δ| / sum |ref|
};

TileError tile_error(const Tensor& got, const Tensor& ref) {
  std::vector<float> a = got.to_vector(), b = ref.to_vector();
  double max_diff = 0, sum_diff = 0, scale = 0, sum_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
    sum_diff += std::fabs(a[i] - b[i]);
    scale = std::max(scale, double(std::fabs(b[i])));
    sum_abs += std::fabs(b[i]);
  }
  return {max_diff / scale, sum_diff / sum_abs};
}

// A tile's border pixels see zero padding where an untiled decode sees neighbours; the linear
// blend hides the seams. With random weights every output pixel depends on ~12 latent pixels
// around it (conv1, the middle and stage 0 alone stack nine 3x3 convs at latent resolution),
// a harsher case than a trained VAE, so the bounds here are loose; the measured errors are in
// docs/vae.md. What must hold: one covering tile is exactly decode(), and the error shrinks as
// tiles grow.
TEST(Vae, TiledDecodeApproachesUntiled) {
  VAE model = VAE::init_random(tiny_vae_config(), 9);
  NoGradGuard ng;
  Tensor z = seeded({1, 4, 1, 24, 24}, 7);
  Tensor full = model.decode(z);
  Tensor tiled = model.decode_tiled(z, {16, 8});  // 2 x 2 tiles
  ASSERT_EQ(tiled.shape(), full.shape());
  TileError big = tile_error(tiled, full), small = tile_error(model.decode_tiled(z, {12, 6}), full);
  std::printf("  tiled vs untiled, 24x24 latent: tile 16 overlap 8: max rel %.3e, mean rel %.3e; "
              "tile 12 overlap 6: max rel %.3e, mean rel %.3e\n", big.max_rel, big.mean_rel, small.max_rel,
              small.mean_rel);
  EXPECT_LE(big.mean_rel, 0.15);
  EXPECT_LE(big.max_rel, 0.6);
  EXPECT_LT(big.mean_rel, small.mean_rel);
  // One tile covering the latent is exactly decode().
  Tensor z2 = seeded({1, 4, 2, 6, 8}, 8);
  EXPECT_EQ(model.decode_tiled(z2, {8, 2}).to_vector(), model.decode(z2).to_vector());
}

TEST(Vae, EveryParameterGetsAFiniteNonZeroGradient) {
  VAE model = VAE::init_random(tiny_vae_config(), 5, VaeInit::random);
  Tensor video = seeded({1, 3, 5, 16, 16}, 8);
  VaeLatent lat = model.encode(video);  // chunked: gradients also flow through the time cache
  Tensor recon = model.decode(vae_sample(lat, 1));
  ASSERT_EQ(recon.shape(), video.shape());
  Tensor loss = add(mean(relu(sub(recon, video)) + relu(sub(video, recon))), scale(vae_kl(lat), 1e-3f));
  backward(loss);
  expect_gradients_everywhere(model.parameters(), vae_parameter_shapes(model.config()));
}

// compute = bf16 runs every convolution as conv3d_autocast. The oracle is the same model on the
// reference kernels, which round each convolution's x and weight to bf16 and convolve in f32:
// the fast bf16 run's output and every parameter's gradient are closer to it than to the f32
// run (relative L2), through the causal time cache too. Not to f32 summation order as one conv
// is (test_conv_autocast): where the two runs' activations straddle a bf16 rounding boundary
// they round one ulp apart, and ~20 randomly initialised layers amplify that (measured: 5e-3
// output, 9e-3 gradients, against 1.6e-2 and 3.2e-2 from f32).
TEST(Vae, Bf16ComputeIsTheRoundedInputsConvolution) {
  VAE model = VAE::init_random(tiny_vae_config(), 5, VaeInit::random);
  Tensor video = seeded({1, 3, 5, 16, 16}, 8);
  auto run = [&](DType compute, std::vector<float>& out, std::vector<float>& grads) {
    VaeRunOptions o;
    o.compute = compute;
    Tensor recon = model.decode(model.encode(video, o).mu, o);
    backward(mean(square(sub(recon, video))));
    out = recon.to_vector();
    for (const Tensor& p : model.parameters()) {
      std::vector<float> g = p.grad().to_vector();
      grads.insert(grads.end(), g.begin(), g.end());
      p.zero_grad();
    }
  };
  std::vector<float> out32, g32, out16, g16, out_ref, g_ref;
  run(DType::f32, out32, g32);
  run(DType::bf16, out16, g16);
  {
    ReferenceKernelsScope reference;
    run(DType::bf16, out_ref, g_ref);
  }
  auto relative = [](const std::vector<float>& a, const std::vector<float>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * double(a[i] - b[i]), den += double(b[i]) * b[i];
    return std::sqrt(num / den);
  };
  const double out_ref_err = relative(out16, out_ref), grad_ref_err = relative(g16, g_ref);
  const double out_f32_err = relative(out16, out32), grad_f32_err = relative(g16, g32);
  std::printf("  bf16 vs reference bf16: output %.2e, gradients %.2e; vs f32: %.2e, %.2e\n", out_ref_err,
              grad_ref_err, out_f32_err, grad_f32_err);
  EXPECT_LT(out_ref_err, 0.5 * out_f32_err);
  EXPECT_LT(grad_ref_err, 0.5 * grad_f32_err);
  EXPECT_LT(out_f32_err, 5e-2);
  EXPECT_LT(grad_f32_err, 1e-1);
  VaeRunOptions bad;
  bad.compute = DType::f16;
  EXPECT_THROW(model.encode(video, bad), Error);
}

TEST(Vae, OverfitsOneTinyClip) {
  VAE model = VAE::init_random(tiny_vae_config(), 3);  // Wan-style init (zero attention proj)
  Tensor video = moving_pattern(5, 16, 16);
  AdamW opt(model.parameters(), {.lr = 3e-3f, .weight_decay = 0.f});
  VaeRunOptions whole;
  whole.chunking = VaeChunking::whole;  // training clips are short: one pass
  std::vector<float> losses;
  auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < 30; ++step) {
    VaeLatent lat = model.encode(video, whole);
    Tensor recon = model.decode(vae_sample(lat, uint64_t(step)), whole);
    Tensor diff = sub(recon, video);
    Tensor l1 = mean(relu(diff) + relu(neg(diff)));  // |x̂ - x|
    Tensor loss = add(l1, scale(vae_kl(lat), 1e-4f));
    losses.push_back(l1.item());
    backward(loss);
    opt.step();
    opt.zero_grad();
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  L1 reconstruction %.4f -> %.4f in 30 steps (%.2f s)\n", losses.front(), losses.back(), s);
  EXPECT_LT(losses.back(), 0.5f * losses.front());
}

TEST(Vae, ConfigRoundTripsThroughCheckpointNamesAndShapes) {
  VaeConfig c;
  c.dim = 8, c.z_dim = 3, c.dim_mult = {1, 2, 3}, c.num_res_blocks = 2, c.temporal_downsample = {true, false};
  c.latents_mean = {0.5f, -1.25f, 2.f};
  c.latents_std = {1.5f, 0.75f, 3.f};
  VAE model = VAE::init_random(c, 1, VaeInit::random);
  std::string path = (std::filesystem::temp_directory_path() / "kinema-vae-roundtrip.safetensors").string();
  save_tensors(path, model.to_tensors());
  TensorFile loaded = load_tensors(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(is_vae_checkpoint(loaded.tensors));
  EXPECT_FALSE(is_vae_checkpoint({{"patch_embedding.weight", Tensor::zeros({1})}}));
  VaeConfig got = infer_vae_config(loaded.tensors, loaded.metadata);
  EXPECT_EQ(got.dim, 8);
  EXPECT_EQ(got.z_dim, 3);
  EXPECT_EQ(got.dim_mult, c.dim_mult);
  EXPECT_EQ(got.num_res_blocks, 2);
  EXPECT_EQ(got.temporal_downsample, c.temporal_downsample);
  EXPECT_EQ(got.latents_mean, c.latents_mean);
  EXPECT_EQ(got.latents_std, c.latents_std);
  EXPECT_EQ(got.temporal_compression(), 2);
  EXPECT_EQ(got.spatial_compression(), 4);
  VAE back = VAE::from_tensors(loaded);
  NoGradGuard ng;
  Tensor video = seeded({1, 3, 3, 8, 8}, 2);
  EXPECT_EQ(model.encode(video).mu.to_vector(), back.encode(video).mu.to_vector());
  // normalize / denormalize with the per-channel statistics
  Tensor mu = model.encode(video).mu;
  EXPECT_LE(max_rel_error(model.denormalize(model.normalize(mu)), mu), 1e-6);
  std::vector<float> m = mu.to_vector(), n = model.normalize(mu).to_vector();
  EXPECT_NEAR(n[0], (m[0] - 0.5f) / 1.5f, 1e-5f);

  // Wan2.1's layout names: the table has Wan's keys at Wan's shapes.
  std::map<std::string, Shape> wan;
  for (auto& [k, s] : vae_parameter_shapes(wan21_vae_config())) wan[k] = s;
  EXPECT_EQ(wan.at("encoder.conv1.weight"), (Shape{96, 3, 3, 3, 3}));
  EXPECT_EQ(wan.at("encoder.downsamples.0.residual.0.gamma"), (Shape{96, 1, 1, 1}));
  EXPECT_EQ(wan.at("encoder.downsamples.2.resample.1.weight"), (Shape{96, 96, 3, 3}));
  EXPECT_EQ(wan.count("encoder.downsamples.2.time_conv.weight"), 0u);
  EXPECT_EQ(wan.at("encoder.downsamples.5.time_conv.weight"), (Shape{192, 192, 3, 1, 1}));
  EXPECT_EQ(wan.at("encoder.downsamples.3.shortcut.weight"), (Shape{192, 96, 1, 1, 1}));
  EXPECT_EQ(wan.at("encoder.middle.1.norm.gamma"), (Shape{384, 1, 1}));
  EXPECT_EQ(wan.at("encoder.middle.1.to_qkv.weight"), (Shape{1152, 384, 1, 1}));
  EXPECT_EQ(wan.at("encoder.head.2.weight"), (Shape{32, 384, 3, 3, 3}));
  EXPECT_EQ(wan.at("conv1.weight"), (Shape{32, 32, 1, 1, 1}));
  EXPECT_EQ(wan.at("conv2.weight"), (Shape{16, 16, 1, 1, 1}));
  EXPECT_EQ(wan.at("decoder.conv1.weight"), (Shape{384, 16, 3, 3, 3}));
  EXPECT_EQ(wan.at("decoder.upsamples.3.time_conv.weight"), (Shape{768, 384, 3, 1, 1}));
  EXPECT_EQ(wan.at("decoder.upsamples.3.resample.1.weight"), (Shape{192, 384, 3, 3}));
  EXPECT_EQ(wan.at("decoder.upsamples.4.shortcut.weight"), (Shape{384, 192, 1, 1, 1}));
  EXPECT_EQ(wan.count("decoder.upsamples.11.time_conv.weight"), 0u);
  EXPECT_EQ(wan.at("decoder.upsamples.11.resample.1.weight"), (Shape{96, 192, 3, 3}));
  EXPECT_EQ(wan.at("decoder.upsamples.14.residual.6.weight"), (Shape{96, 96, 3, 3, 3}));
  EXPECT_EQ(wan.at("decoder.head.2.weight"), (Shape{3, 96, 3, 3, 3}));
  EXPECT_EQ(wan.size(), vae_parameter_shapes(wan21_vae_config()).size());
  TensorFile wan_file;
  for (auto& [k, s] : wan) wan_file.tensors[k] = expand(Tensor::zeros(Shape(s.size(), 1)), s);  // shapes only
  VaeConfig inferred = infer_vae_config(wan_file.tensors);
  EXPECT_EQ(inferred.dim, 96);
  EXPECT_EQ(inferred.z_dim, 16);
  EXPECT_EQ(inferred.dim_mult, (std::vector<int64_t>{1, 2, 4, 4}));
  EXPECT_EQ(inferred.num_res_blocks, 2);
  EXPECT_EQ(inferred.temporal_downsample, (std::vector<bool>{false, true, true}));
}

TEST(Vae, BadCheckpointsNameTheKey) {
  TensorFile good = VAE::init_random(tiny_vae_config(), 1).to_tensors();
  TensorFile f = good;
  f.tensors.erase("decoder.upsamples.2.time_conv.bias");
  std::string e = error_of([&] { VAE::from_tensors(f); });
  EXPECT_NE(e.find("missing tensor \"decoder.upsamples.2.time_conv.bias\""), std::string::npos) << e;
  f = good;
  f.tensors.erase("conv2.weight");
  e = error_of([&] { VAE::from_tensors(f); });
  EXPECT_NE(e.find("missing tensor \"conv2.weight\""), std::string::npos) << e;
  f = good;
  f.tensors["encoder.middle.1.to_qkv.weight"] = Tensor::zeros({90, 32, 1, 1});
  e = error_of([&] { VAE::from_tensors(f); });
  EXPECT_NE(e.find("\"encoder.middle.1.to_qkv.weight\" has shape [90, 32, 1, 1]; expected [96, 32, 1, 1]"),
            std::string::npos) << e;
  f = good;
  f.tensors["decoder.head.2.weight"] = Tensor::zeros({3, 8, 3, 3});
  e = error_of([&] { VAE::from_tensors(f); });
  EXPECT_NE(e.find("\"decoder.head.2.weight\" has shape [3, 8, 3, 3]"), std::string::npos) << e;
  f = good;
  f.tensors["encoder.downsamples.0.extra.weight"] = Tensor::zeros({1});
  e = error_of([&] { VAE::from_tensors(f); });
  EXPECT_NE(e.find("unexpected tensor \"encoder.downsamples.0.extra.weight\""), std::string::npos) << e;
  f = good;
  f.metadata["latents_mean"] = "1,x";
  e = error_of([&] { VAE::from_tensors(f); });
  EXPECT_NE(e.find("latents_mean"), std::string::npos) << e;
}

TEST(Vae, BadInputsSayWhatIsExpected) {
  VAE model = VAE::init_random(tiny_vae_config(), 1);
  NoGradGuard ng;
  std::string e = error_of([&] { model.encode(seeded({1, 3, 4, 16, 16}, 1)); });
  EXPECT_NE(e.find("expected 1 + k·4"), std::string::npos) << e;
  e = error_of([&] { model.encode(seeded({1, 3, 1, 12, 16}, 1)); });
  EXPECT_NE(e.find("not divisible by the spatial compression 8"), std::string::npos) << e;
  e = error_of([&] { model.decode(seeded({1, 5, 1, 2, 2}, 1)); });
  EXPECT_NE(e.find("latent must be [B, z_dim, T, H, W] with z_dim 4"), std::string::npos) << e;
}

}  // namespace
}  // namespace kinema::test
