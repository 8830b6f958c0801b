// Parity with Wan2.2's own model code (issue 8). tests/models/wan_golden/wan22_*.safetensors and
// wan_dpmpp_sampling.safetensors were made by make_goldens_wan22.py, which runs
// github:Wan-Video/Wan2.2's vae2_2.py, model.py and fm_solvers.py unchanged on tiny
// configurations. Every traced tensor must match within 1e-4 of its scale (f32).
#include <gtest/gtest.h>

#include <string>

#include "generate/internal.hpp"
#include "kinema/autograd.hpp"
#include "kinema/dit.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/sampler.hpp"
#include "kinema/vae.hpp"
#include "vae_test_util.hpp"
#include "wan_golden_util.hpp"

namespace kinema {
namespace {

// Expects `fn` to throw a kinema Error whose message contains `needle`.
template <class Fn>
void expect_error(Fn fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an Error containing \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// wan/modules/vae2_2.py's WanVAE_(dim 4, dec_dim 3, z 4, mults 1,2,2,2, 2 residual blocks, time
// halved in stages 1 and 2): 9 frames of 16x32 pixels -> 3 x 1 x 2 latents, in Wan's chunks.
TEST(Wan22OfficialParity, VaeEncodeAndDecodeMatchWan22VaeStageByStage) {
  NoGradGuard no_grad;
  const TensorFile g = test::wan_golden("wan22_vae.safetensors");
  const VAE vae = VAE::from_tensors(test::golden_weights(g));
  const VaeConfig& c = vae.config();
  EXPECT_EQ(c.layout, VaeLayout::wan22);
  EXPECT_EQ(c.patch_size, 2);
  EXPECT_EQ(c.dim, 4);
  EXPECT_EQ(c.decoder_dim, 3);
  EXPECT_EQ(c.num_res_blocks, 2);
  EXPECT_EQ(c.dim_mult, (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_EQ(c.temporal_downsample, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(c.spatial_compression(), 16);
  EXPECT_EQ(c.temporal_compression(), 4);
  std::map<std::string, Tensor> trace;
  VaeRunOptions o;
  o.trace = &trace;
  trace["output.mu"] = vae.encode(g.tensors.at("input.video"), o).mu;
  trace["output.decoded"] = vae.decode(g.tensors.at("input.z"), o);
  // conv1, 4 stages, middle, head, mu; conv2, conv1, middle, 4 stages, head, the video
  EXPECT_EQ(test::expect_traces_match(g, trace, "vae2.2", 1e-4), 17);
}

// The whole clip in one pass runs the same function as Wan's chunks (the shortcuts' front
// padding and first-chunk trim included).
TEST(Wan22OfficialParity, VaeWholeClipEqualsCausalChunks) {
  NoGradGuard no_grad;
  const TensorFile g = test::wan_golden("wan22_vae.safetensors");
  const VAE vae = VAE::from_tensors(test::golden_weights(g));
  const VaeRunOptions whole{VaeChunking::whole};
  const Tensor& video = g.tensors.at("input.video");
  const Tensor& z = g.tensors.at("input.z");
  EXPECT_LE(test::max_rel_error(vae.encode(video, whole).mu, vae.encode(video).mu), 1e-5);
  EXPECT_LE(test::max_rel_error(vae.decode(z, whole), vae.decode(z)), 1e-5);
}

// Wan2.2_VAE.pth's shapes (dim 160, decoder 256, z 48), and a random Wan2.2-layout VAE saved
// and loaded back is recognised as one.
TEST(Wan22OfficialParity, Wan22VaeConfigHasTheReleasedShapesAndRoundTrips) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, shape] : vae_parameter_shapes(wan22_vae_config())) shapes[name] = shape;
  EXPECT_EQ(shapes.at("encoder.conv1.weight"), (Shape{160, 12, 3, 3, 3}));
  EXPECT_EQ(shapes.at("encoder.downsamples.1.downsamples.0.shortcut.weight"), (Shape{320, 160, 1, 1, 1}));
  EXPECT_EQ(shapes.at("encoder.downsamples.2.downsamples.2.time_conv.weight"), (Shape{640, 640, 3, 1, 1}));
  EXPECT_EQ(shapes.at("conv1.weight"), (Shape{96, 96, 1, 1, 1}));
  EXPECT_EQ(shapes.at("decoder.conv1.weight"), (Shape{1024, 48, 3, 3, 3}));
  EXPECT_EQ(shapes.at("decoder.upsamples.0.upsamples.3.time_conv.weight"), (Shape{2048, 1024, 3, 1, 1}));
  EXPECT_EQ(shapes.at("decoder.upsamples.2.upsamples.3.resample.1.weight"), (Shape{512, 512, 3, 3}));
  EXPECT_EQ(shapes.at("decoder.head.2.weight"), (Shape{12, 256, 3, 3, 3}));
  EXPECT_EQ(wan22_vae_config().latents_std.size(), 48u);

  VaeConfig tiny = wan22_vae_config();
  tiny.dim = 4, tiny.decoder_dim = 6, tiny.z_dim = 4, tiny.num_res_blocks = 1, tiny.latents_mean.clear(),
  tiny.latents_std.clear();
  const VAE back = VAE::from_tensors(VAE::init_random(tiny, 3).to_tensors());
  EXPECT_EQ(back.config().layout, VaeLayout::wan22);
  EXPECT_EQ(back.config().decoder_dim, 6);
  EXPECT_EQ(back.config().dim_mult, tiny.dim_mult);
}

// A VAE file that is neither Wan2.1's nor Wan2.2's, or a Wan2.2 file with a missing or
// mis-shaped tensor, is an Error that names what was expected.
TEST(Wan22OfficialParity, VaeFilesThatAreNeitherLayoutAreRefused) {
  const TensorFile g = test::golden_weights(test::wan_golden("wan22_vae.safetensors"));
  TensorFile odd = g;
  odd.tensors["encoder.conv1.weight"] = Tensor::zeros({4, 5, 3, 3, 3});
  expect_error([&] { VAE::from_tensors(odd); }, "neither a Wan2.1 nor a Wan2.2 VAE");
  TensorFile missing = g;
  missing.tensors.erase("encoder.downsamples.1.downsamples.2.resample.1.weight");
  expect_error([&] { VAE::from_tensors(missing); }, "missing tensor \"encoder.downsamples.1.downsamples.2.resample.1.weight\"");
  TensorFile shaped = g;
  shaped.tensors["decoder.upsamples.1.upsamples.0.residual.2.weight"] = Tensor::zeros({6, 5, 3, 3, 3});
  expect_error([&] { VAE::from_tensors(shaped); }, "\"decoder.upsamples.1.upsamples.0.residual.2.weight\" has shape");
  VaeConfig uneven = wan22_vae_config();  // the last stage's 160 -> 480 cannot be a channel average
  uneven.dim_mult = {1, 3}, uneven.temporal_downsample = {false}, uneven.latents_mean.clear(), uneven.latents_std.clear();
  expect_error([&] { uneven.validate(); }, "cannot average its input down");
  TensorFile mixed = g;  // a Wan2.1-style key among Wan2.2's
  mixed.tensors["encoder.downsamples.0.residual.0.gamma"] = Tensor::zeros({4, 1, 1, 1});
  expect_error([&] { VAE::from_tensors(mixed); }, "encoder.downsamples.0.residual.0.gamma");
}

DiTConfig tiny_wan22_dit(int64_t in_dim, int64_t out_dim) {
  DiTConfig c;
  c.dim = 32, c.ffn_dim = 64, c.freq_dim = 32, c.text_dim = 32, c.num_heads = 2, c.num_layers = 2;
  c.in_dim = in_dim, c.out_dim = out_dim;
  return c;
}

// TI2V: per-token timesteps [1, 36], the first latent frame's 12 tokens at t = 0 (textimage2video.py).
TEST(Wan22OfficialParity, DiTTI2VWithPerTokenTimestepsMatchesWanModel) {
  NoGradGuard no_grad;
  const TensorFile g = test::wan_golden("wan22_dit_ti2v.safetensors");
  const DiT model = DiT::from_tensors(test::formula_dit_weights(tiny_wan22_dit(6, 6)));
  const Tensor& t = g.tensors.at("input.t");
  ASSERT_EQ(t.shape(), (Shape{1, 36}));
  std::map<std::string, Tensor> trace;
  DiTForwardOptions o;
  o.trace = &trace;
  trace["output"] = model.forward(g.tensors.at("input.x"), t, g.tensors.at("input.context"), o);
  EXPECT_EQ(trace.at("time_projection").shape(), (Shape{1, 36, 6, 32}));
  EXPECT_EQ(test::expect_traces_match(g, trace, "ti2v", 1e-4), 8);
}

// Equal per-token timesteps are the [B] path: Wan2.2 expands t [B] to every token the same way.
TEST(Wan22OfficialParity, DiTPerTokenTimestepsOfOneValueEqualBatchTimesteps) {
  NoGradGuard no_grad;
  const TensorFile g = test::wan_golden("wan22_dit_ti2v.safetensors");
  const DiT model = DiT::from_tensors(test::formula_dit_weights(tiny_wan22_dit(6, 6)));
  const Tensor& x = g.tensors.at("input.x");
  const Tensor& ctx = g.tensors.at("input.context");
  const Tensor batch = model.forward(x, Tensor::from_vector({731.f}, {1}), ctx);
  const Tensor tokens = model.forward(x, Tensor::from_vector(std::vector<float>(36, 731.f), {1, 36}), ctx);
  EXPECT_LE(test::max_rel_error(tokens, batch), 1e-6);
  expect_error([&] { model.forward(x, Tensor::from_vector(std::vector<float>(35, 1.f), {1, 35}), ctx); },
               "per-token timesteps must be [B, tokens] = [1, 36]");
}

// I2V-A14B's experts: WanModel i2v with y (4 mask + 4 latent channels here) and no CLIP branch.
TEST(Wan22OfficialParity, DiTI2VWithoutClipMatchesWanModel) {
  NoGradGuard no_grad;
  const TensorFile g = test::wan_golden("wan22_dit_i2v.safetensors");
  const DiT model = DiT::from_tensors(test::formula_dit_weights(tiny_wan22_dit(12, 4)));
  EXPECT_EQ(model.config().image_dim, 0);
  std::map<std::string, Tensor> trace;
  DiTForwardOptions o;
  o.trace = &trace, o.condition = g.tensors.at("input.condition");
  trace["output"] = model.forward(g.tensors.at("input.x"), g.tensors.at("input.t"), g.tensors.at("input.context"), o);
  // Wan2.2 expands t [B] to every token before embedding it; kinema embeds it once.
  trace["time_embedding"] = expand(reshape(trace.at("time_embedding"), {1, 1, 32}), {1, 36, 32});
  trace["time_projection"] = expand(reshape(trace.at("time_projection"), {1, 1, 6, 32}), {1, 36, 6, 32});
  EXPECT_EQ(test::expect_traces_match(g, trace, "i2v-a14b", 1e-4), 8);
}

// wan/text2video.py's dpm++ branch run by make_goldens_wan22.py: FlowDPMSolverMultistepScheduler
// over get_sampling_sigmas(4, shift 3) (sigma_max 1), guide scale 5, on the tiny T2V WanModel of
// wan21_dit_t2v.safetensors; kinema's schedule, DPM++ 2M stepper and CFG denoiser.
TEST(Wan22OfficialParity, FourStepDpmppRunWithGuidanceMatchesWansLoop) {
  NoGradGuard no_grad;
  const TensorFile g = test::wan_golden("wan_dpmpp_sampling.safetensors");
  const DiT model = DiT::from_tensors(test::golden_weights(test::wan_golden("wan21_dit_t2v.safetensors")));
  const Schedule s = flow_schedule({.steps = 4, .shift = 3.0, .sigma_max = 1.0});
  EXPECT_EQ(s.timesteps, g.tensors.at("timesteps").to_vector());
  EXPECT_EQ(s.sigmas, g.tensors.at("sigmas").to_vector());
  ModelFn fn = [&](const Tensor& x, const ModelCall& call) {
    const Tensor& ctx = g.tensors.at(call.conditional ? "input.context" : "input.context_null");
    return model.forward(x, Tensor::from_vector({call.timestep}, {1}), ctx);
  };
  SampleOptions o{.sampler = "dpm++", .guidance = {.cfg = 5.0f}};
  const double err = test::max_rel_error(sample(fn, g.tensors.at("input.noise"), s, o), g.tensors.at("output.latents"));
  std::printf("  4-step DPM++ + CFG 5 latents: max error %.2e of their scale\n", err);
  EXPECT_LE(err, 1e-3);
}

// wan/textimage2video.py's image-to-video loop run by make_goldens_wan22.py (UniPC, 4 steps,
// shift 3, guide 5, tiny TI2V DiT): Wan puts the image latent back at latent frame 0 after every
// step; kinema's Pipeline::generate puts it in before every DiT call (with per-token timesteps)
// and once after sampling, the same helpers driven here. Equal because the solver is elementwise.
TEST(Wan22OfficialParity, FourStepTI2VImageToVideoMatchesWansLoop) {
  NoGradGuard no_grad;
  const TensorFile g = test::wan_golden("wan22_ti2v_sampling.safetensors");
  const DiT model = DiT::from_tensors(test::formula_dit_weights(tiny_wan22_dit(6, 6)));
  const Tensor& first = g.tensors.at("input.first");  // [1, 6, 1, 6, 8]
  ModelFn fn = [&](const Tensor& x, const ModelCall& call) {
    const Tensor& ctx = g.tensors.at(call.conditional ? "input.context" : "input.context_null");
    return model.forward(detail::replace_first_latent(x, first),
                         detail::first_frame_timesteps(call.timestep, x.shape(), model.config()), ctx);
  };
  SampleOptions o{.sampler = "unipc", .guidance = {.cfg = 5.0f}};
  const Tensor z = detail::replace_first_latent(sample(fn, g.tensors.at("input.noise"), flow_schedule({.steps = 4, .shift = 3.0}), o), first);
  const double err = test::max_rel_error(z, g.tensors.at("output.latents"));
  std::printf("  4-step TI2V image-to-video (UniPC + CFG 5) latents: max error %.2e of their scale\n", err);
  EXPECT_LE(err, 1e-3);
}

}  // namespace
}  // namespace kinema
