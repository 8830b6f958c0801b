// Parity with Wan2.1's own model code (issue 8). tests/models/wan_golden/*.safetensors were made
// by make_goldens.py, which runs github:Wan-Video/Wan2.1's WanModel and WanVAE_ unchanged on tiny
// random-weight configurations (what it stood in for, and why, is in its docstring). kinema loads
// the same state_dict under Wan's own keys and must match every traced tensor: f32 within 1e-4
// of each tensor's scale, bf16 compute within 2e-2.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "kinema/autograd.hpp"
#include "kinema/clip_vision.hpp"
#include "kinema/dit.hpp"
#include "kinema/ops.hpp"
#include "kinema/sampler.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/text_encoder.hpp"
#include "kinema/tokenizer.hpp"
#include "kinema/vae.hpp"
#include "vae_test_util.hpp"
#include "wan_golden_util.hpp"

namespace kinema {
namespace {

TensorFile golden(const char* name) { return test::wan_golden(name); }
TensorFile weights_of(const TensorFile& g) { return test::golden_weights(g); }
using test::formula;

void check_dit(DType compute, double tolerance) {
  NoGradGuard no_grad;
  const TensorFile g = golden("wan21_dit_t2v.safetensors");
  DiT model = DiT::from_tensors(weights_of(g));
  std::map<std::string, Tensor> trace;
  DiTForwardOptions o;
  o.compute = compute, o.trace = &trace;
  trace["output"] = model.forward(g.tensors.at("input.x"), g.tensors.at("input.t"), g.tensors.at("input.context"), o);
  int compared = 0;
  for (const auto& [name, want] : g.tensors) {
    const bool is_trace = name.rfind("trace.", 0) == 0;
    if (!is_trace && name != "output") continue;
    const std::string ours = is_trace ? name.substr(6) : name;
    ASSERT_TRUE(trace.count(ours)) << "kinema traces no " << ours;
    ASSERT_EQ(trace[ours].numel(), want.numel()) << ours;
    const double err = test::max_rel_error(reshape(contiguous(trace[ours]), want.shape()), want);
    std::printf("  %-16s %-18s max error %.2e of its scale\n", std::string(dtype_name(compute)).c_str(),
                ours.c_str(), err);
    EXPECT_LE(err, tolerance) << ours;
    ++compared;
  }
  EXPECT_EQ(compared, 8);  // patch, text, time, time projection, 2 blocks, head and the output
}

TEST(WanOfficialParity, DiTT2VMatchesWanModelLayerByLayerInF32) { check_dit(DType::f32, 1e-4); }
TEST(WanOfficialParity, DiTT2VMatchesWanModelInBf16) { check_dit(DType::bf16, 2e-2); }

// Wan I2V (one image) and FLF2V (first and last: 514 tokens with img_emb.emb_pos): img_emb and
// every block's k_img/v_img against the official WanModel of that type.
void check_image_dit(const char* file, int images) {
  NoGradGuard no_grad;
  const TensorFile g = golden(file);
  DiTConfig c;
  c.dim = 32, c.ffn_dim = 64, c.freq_dim = 32, c.text_dim = 32, c.num_heads = 2, c.num_layers = 2;
  c.in_dim = 12, c.out_dim = 4, c.image_dim = 1280, c.image_tokens = images == 2 ? 514 : 0;
  DiT model = DiT::from_tensors(test::formula_dit_weights(c));  // weights sorted by name, as Python's sorted(state_dict)
  EXPECT_EQ(model.config().image_dim, 1280);
  EXPECT_EQ(model.config().image_tokens, c.image_tokens);
  std::map<std::string, Tensor> trace;
  DiTForwardOptions o;
  o.trace = &trace, o.condition = g.tensors.at("input.condition");
  o.image_context = Tensor::from_vector(formula(images * 257 * 1280, -1, 0.5), {1, images * 257, 1280});
  trace["output"] = model.forward(g.tensors.at("input.x"), g.tensors.at("input.t"), g.tensors.at("input.context"), o);
  for (const char* name : {"img_emb", "blocks.0", "blocks.1", "output"}) {
    const Tensor& want = g.tensors.at(std::string(name) == "output" ? "output" : "trace." + std::string(name));
    const double err = test::max_rel_error(reshape(contiguous(trace.at(name)), want.shape()), want);
    std::printf("  %-6s %-9s max error %.2e of its scale\n", file + 10, name, err);
    EXPECT_LE(err, 1e-4) << name;
  }
}

TEST(WanOfficialParity, DiTI2VImageBranchMatchesWanModel) { check_image_dit("wan21_dit_i2v.safetensors", 1); }
TEST(WanOfficialParity, DiTFLF2VImageBranchMatchesWanModel) { check_image_dit("wan21_dit_flf2v.safetensors", 2); }

// wan/text2video.py's loop run by make_goldens.py: Wan's FlowUniPCMultistepScheduler, 4 steps,
// shift 3, guide scale 5, on the tiny WanModel above; kinema's schedule, UniPC stepper and CFG
// denoiser drive kinema's DiT over the same noise and contexts.
TEST(WanOfficialParity, FourStepUniPCRunWithGuidanceMatchesWansLoop) {
  NoGradGuard no_grad;
  const TensorFile g = golden("wan21_unipc_sampling.safetensors");
  DiT model = DiT::from_tensors(weights_of(golden("wan21_dit_t2v.safetensors")));
  const Schedule s = flow_schedule({.steps = 4, .shift = 3.0});
  EXPECT_EQ(s.timesteps, g.tensors.at("timesteps").to_vector());
  EXPECT_EQ(s.sigmas, g.tensors.at("sigmas").to_vector());
  ModelFn fn = [&](const Tensor& x, const ModelCall& call) {
    const Tensor& ctx = g.tensors.at(call.conditional ? "input.context" : "input.context_null");
    return model.forward(x, Tensor::from_vector({call.timestep}, {1}), ctx);
  };
  SampleOptions o{.sampler = "unipc", .guidance = {.cfg = 5.0f}};
  const Tensor latents = sample(fn, g.tensors.at("input.noise"), s, o);
  const double err = test::max_rel_error(latents, g.tensors.at("output.latents"));
  std::printf("  4-step UniPC + CFG 5 latents: max error %.2e of their scale\n", err);
  EXPECT_LE(err, 1e-3);
}

// Wan's T5Encoder (umT5: a position-bias table in every block), two sequences with padding.
TEST(WanOfficialParity, Umt5EncoderMatchesWansT5Encoder) {
  NoGradGuard no_grad;
  const TensorFile g = golden("wan21_umt5.safetensors");
  TextEncoder model = TextEncoder::from_tensors(weights_of(g));
  const std::vector<float> ids = g.tensors.at("input.ids").to_vector(), mask = g.tensors.at("input.mask").to_vector();
  TokenBatch tokens;
  tokens.batch = 2, tokens.length = 10;
  for (size_t i = 0; i < ids.size(); ++i) tokens.ids.push_back(int32_t(ids[i])), tokens.mask.push_back(int32_t(mask[i]));
  for (int64_t b = 0; b < 2; ++b) {
    int64_t n = 0;
    for (int64_t j = 0; j < 10; ++j) n += tokens.mask[size_t(b * 10 + j)];
    tokens.lengths.push_back(n);
  }
  for (DType compute : {DType::f32, DType::bf16}) {
    TextEncoderForwardOptions o;
    o.compute = compute;
    const double err = test::max_rel_error(model.forward(tokens, o), g.tensors.at("output"));
    std::printf("  umT5 %s output: max error %.2e of its scale\n", std::string(dtype_name(compute)).c_str(), err);
    EXPECT_LE(err, compute == DType::f32 ? 1e-4 : 2e-2);
  }
}

// clip.py's VisionTransformer (ViT-H/14's structure, tiny): the penultimate block's tokens.
TEST(WanOfficialParity, ClipVisionMatchesWansVisionTransformer) {
  NoGradGuard no_grad;
  const TensorFile g = golden("wan21_clip_vision.safetensors");
  ClipVision clip = ClipVision::from_tensors(weights_of(g));
  EXPECT_EQ(clip.config().num_layers, 3);
  EXPECT_EQ(clip.config().image_size, 28);
  const double err = test::max_rel_error(clip.forward(g.tensors.at("input.images")), g.tensors.at("output"));
  std::printf("  CLIP vision (penultimate block) max error %.2e of its scale\n", err);
  EXPECT_LE(err, 1e-4);
}

TEST(WanOfficialParity, VaeEncodeAndDecodeMatchWanVAE) {
  NoGradGuard no_grad;
  const TensorFile g = golden("wan21_vae.safetensors");
  VAE vae = VAE::from_tensors(weights_of(g));
  const Tensor mu = vae.encode(g.tensors.at("input.video")).mu;
  const Tensor decoded = vae.decode(g.tensors.at("input.z"));
  const double e_mu = test::max_rel_error(mu, g.tensors.at("output.mu"));
  const double e_dec = test::max_rel_error(decoded, g.tensors.at("output.decoded"));
  std::printf("  VAE encode mu max error %.2e, decode %.2e of their scales\n", e_mu, e_dec);
  EXPECT_EQ(mu.shape(), g.tensors.at("output.mu").shape());
  EXPECT_EQ(decoded.shape(), g.tensors.at("output.decoded").shape());
  EXPECT_LE(e_mu, 1e-4);
  EXPECT_LE(e_dec, 1e-4);
}

}  // namespace
}  // namespace kinema
