// VAE parity against an independent float64 PyTorch reference (vae_reference.py, written from
// Wan2.1's VAE architecture and its chunked feat_cache schedule), tensor by tensor and stage by
// stage: every named intermediate of encode and decode is compared and its error printed, so a
// mismatch points at its stage. Error measure per tensor: max |kinema - reference| / max |reference|.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "dit_test_util.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"
#include "vae_test_util.hpp"

namespace kinema::test {
namespace {
namespace fs = std::filesystem;

struct ParityCase {
  VaeConfig config;
  Shape video;  // [B, 3, T, H, W]
  Shape latent;  // [B, z, T', h, w]
  double tolerance = 1e-4;
};

void run_parity(const ParityCase& pc, const std::string& tag) {
  VAE model = VAE::init_random(pc.config, 42, VaeInit::random);
  Tensor video = seeded(pc.video, 1), z = seeded(pc.latent, 2);
  TensorFile in = model.to_tensors();
  in.tensors["input.video"] = video, in.tensors["input.z"] = z;
  fs::path dir = fs::temp_directory_path() / ("kinema-vae-" + std::to_string(::getpid()) + "-" + tag);
  fs::create_directories(dir);
  save_tensors((dir / "in.safetensors").string(), in);
  std::string cmd = std::string(KINEMA_PYTHON) + " " + KINEMA_SOURCE_DIR + "/tests/models/vae_reference.py " +
                    (dir / "in.safetensors").string() + " " + (dir / "out.safetensors").string() + " > " +
                    (dir / "log.txt").string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream log(dir / "log.txt");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    fs::remove_all(dir);
    FAIL() << "vae_reference.py failed (" << rc << "):\n" << text;
  }
  TensorFile ref = load_tensors((dir / "out.safetensors").string());
  fs::remove_all(dir);

  NoGradGuard no_grad;
  std::map<std::string, Tensor> trace;
  VaeRunOptions o;
  o.trace = &trace;
  model.encode(video, o);
  trace["decoder.head"] = Tensor();  // decode's trace fills the rest
  model.decode(z, o);
  EXPECT_EQ(ref.tensors.size(), trace.size());
  if (std::getenv("KINEMA_VAE_DUMP")) {  // debugging: weights, inputs and kinema's trace ("k.<name>")
    TensorFile d = in;
    for (auto& [k, v] : trace) d.tensors["k." + k] = contiguous(v);
    save_tensors(std::string(std::getenv("KINEMA_VAE_DUMP")) + "-" + tag + ".safetensors", d);
  }
  for (const auto& [name, r] : ref.tensors) {
    auto it = trace.find(name);
    if (it == trace.end() || !it->second.defined()) {
      ADD_FAILURE() << "kinema has no intermediate \"" << name << "\"";
      continue;
    }
    EXPECT_EQ(it->second.shape(), r.shape()) << name;
    if (it->second.shape() != r.shape()) continue;
    double rel = max_rel_error(it->second, r);
    std::printf("  [%s] %-24s %-20s rel %.3e\n", tag.c_str(), name.c_str(), shape_str(r.shape()).c_str(), rel);
    EXPECT_LE(rel, pc.tolerance) << name << " in " << tag;
  }
}

// Wan's layout (×8 space, ×4 time) at a toy width: 9 frames = frame 0 + two chunks of 4.
TEST(VaeParity, VideoMatchesTheReferenceStageByStage) {
  run_parity({tiny_vae_config(), {1, 3, 9, 16, 16}, {1, 4, 3, 2, 2}}, "video");
}

// The clip the brief names: 5 frames = frame 0 + one chunk.
TEST(VaeParity, FiveFrameClipMatches) {
  run_parity({tiny_vae_config(), {1, 3, 5, 16, 16}, {1, 4, 2, 2, 2}}, "5-frames");
}

// An image is a one-frame video, in both directions.
TEST(VaeParity, ImageMatches) {
  run_parity({tiny_vae_config(), {1, 3, 1, 16, 16}, {1, 4, 1, 2, 2}}, "image");
}

// Another layout: 3 stages, 2 residual blocks, time halved in the first stage only, batch 2.
TEST(VaeParity, OtherLayoutBatchOfTwoMatches) {
  VaeConfig c;
  c.dim = 8, c.z_dim = 3, c.dim_mult = {1, 2, 2}, c.num_res_blocks = 2, c.temporal_downsample = {true, false};
  run_parity({c, {2, 3, 5, 8, 12}, {2, 3, 3, 2, 3}}, "3-stage");
}

// Training's gradients: backward of sum(decode(z) * g) + sum(mu * g_mu) + sum(logvar * g_lv)
// through kinema's whole-clip pass, against PyTorch autograd through the reference's chunked
// schedule, for every weight.
TEST(VaeParity, GradientsOfEveryWeightMatchTheReference) {
  VAE model = VAE::init_random(tiny_vae_config(), 42, VaeInit::random);
  const Shape video_shape{1, 3, 9, 16, 16}, latent{1, 4, 3, 2, 2};
  Tensor video = seeded(video_shape, 1), z = seeded(latent, 2);
  Tensor g_video = seeded(video_shape, 3), g_mu = seeded(latent, 4), g_lv = seeded(latent, 5);
  TensorFile in = model.to_tensors();
  in.tensors["input.video"] = video, in.tensors["input.z"] = z;
  in.tensors["input.g_video"] = g_video, in.tensors["input.g_mu"] = g_mu, in.tensors["input.g_logvar"] = g_lv;
  fs::path dir = fs::temp_directory_path() / ("kinema-vae-grad-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  save_tensors((dir / "in.safetensors").string(), in);
  std::string cmd = std::string(KINEMA_PYTHON) + " " + KINEMA_SOURCE_DIR + "/tests/models/vae_reference.py " +
                    (dir / "in.safetensors").string() + " " + (dir / "out.safetensors").string() + " > " +
                    (dir / "log.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "vae_reference.py failed; see " << (dir / "log.txt").string();
  TensorFile ref = load_tensors((dir / "out.safetensors").string());
  fs::remove_all(dir);

  VaeRunOptions whole;
  whole.chunking = VaeChunking::whole;  // as the trainer runs it
  VaeLatent lat = model.encode(video, whole);
  Tensor loss = add(add(sum(mul(model.decode(z, whole), g_video)), sum(mul(lat.mu, g_mu))),
                    sum(mul(lat.logvar, g_lv)));
  backward(loss);
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, shape] : vae_parameter_shapes(model.config())) {
    auto it = ref.tensors.find("grad." + name);
    ASSERT_NE(it, ref.tensors.end()) << name;
    Tensor g = model.weight(name).grad();
    ASSERT_TRUE(g.defined()) << name << " got no gradient";
    double rel = max_rel_error(g, it->second);
    if (rel > worst) worst = rel, worst_name = name;
    EXPECT_LE(rel, 1e-3) << name;
  }
  std::printf("  worst gradient: %s rel %.3e\n", worst_name.c_str(), worst);
}

}  // namespace
}  // namespace kinema::test
