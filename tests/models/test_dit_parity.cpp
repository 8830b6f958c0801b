// DiT parity against an independent float64 PyTorch reference (dit_reference.py, written from
// Wan2.1's architecture), tensor by tensor and layer by layer, as in llm.c's test_gpt2.c:
// every named intermediate is compared and its error printed, so a mismatch points at its
// layer. Error measure per tensor: max |kinema - reference| / max |reference|.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "dit_test_util.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"

namespace kinema::test {
namespace {
namespace fs = std::filesystem;

struct ParityCase {
  DiTConfig config;
  Shape latent;  // [B, C, T, H, W]
  int64_t text_len = 7;
  std::vector<float> timesteps;
  int64_t condition_channels = 0;
  std::vector<int64_t> context_lens;
  DType compute = DType::f32;
  double tolerance = 1e-4;
};

// Runs kinema and the reference on the same weights and inputs; returns the worst error.
double run_parity(const ParityCase& pc, const std::string& tag) {
  DiT model = DiT::init_random(pc.config, 42, DiTInit::random);
  int64_t B = pc.latent[0];
  Tensor x = seeded(pc.latent, 1), t = Tensor::from_vector(pc.timesteps, {B});
  Tensor context = seeded({B, pc.text_len, pc.config.text_dim}, 2);
  DiTForwardOptions options;
  options.compute = pc.compute;
  options.context_lens = pc.context_lens;
  std::map<std::string, Tensor> trace;
  options.trace = &trace;

  TensorFile in = model.to_tensors();
  in.tensors["input.x"] = x, in.tensors["input.t"] = t, in.tensors["input.context"] = context;
  if (pc.condition_channels) {
    Shape cs = pc.latent;
    cs[1] = pc.condition_channels;
    options.condition = seeded(cs, 3);
    in.tensors["input.condition"] = options.condition;
  }
  if (!pc.context_lens.empty()) {
    std::vector<float> lens(pc.context_lens.begin(), pc.context_lens.end());
    in.tensors["input.context_lens"] = Tensor::from_vector(lens, {B});
  }
  fs::path dir = fs::temp_directory_path() / ("kinema-dit-" + std::to_string(::getpid()) + "-" + tag);
  fs::create_directories(dir);
  save_tensors((dir / "in.safetensors").string(), in);
  std::string cmd = std::string(KINEMA_PYTHON) + " " + KINEMA_SOURCE_DIR +
                    "/tests/models/dit_reference.py " + (dir / "in.safetensors").string() + " " +
                    (dir / "out.safetensors").string() + " > " + (dir / "log.txt").string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream log(dir / "log.txt");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    fs::remove_all(dir);
    ADD_FAILURE() << "dit_reference.py failed (" << rc << "):\n" << text;
    return INFINITY;
  }
  TensorFile ref = load_tensors((dir / "out.safetensors").string());
  fs::remove_all(dir);

  NoGradGuard no_grad;
  trace["output"] = model.forward(x, t, context, options);
  EXPECT_EQ(ref.tensors.size(), trace.size());
  double worst = 0;
  for (const auto& [name, r] : ref.tensors) {
    auto it = trace.find(name);
    if (it == trace.end()) {
      ADD_FAILURE() << "kinema has no intermediate \"" << name << "\"";
      continue;
    }
    EXPECT_EQ(it->second.shape(), r.shape()) << name;
    if (it->second.shape() != r.shape()) continue;
    std::vector<float> a = it->second.to_vector(), b = r.to_vector();
    double diff = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      diff = std::max(diff, double(std::fabs(a[i] - b[i])));
      scale = std::max(scale, double(std::fabs(b[i])));
    }
    double rel = diff / std::max(scale, 1e-30);
    std::printf("  [%s] %-16s max diff %.3e  max |ref| %.3e  rel %.3e\n", tag.c_str(), name.c_str(),
                diff, scale, rel);
    EXPECT_LE(rel, pc.tolerance) << name << " in " << tag;
    worst = std::max(worst, rel);
  }
  return worst;
}

TEST(DiTParity, TextToVideoF32MatchesTheReferenceLayerByLayer) {
  ParityCase pc;
  pc.config = tiny_dit_config();
  pc.latent = {1, 4, 3, 4, 6};
  pc.timesteps = {937.5f};
  run_parity(pc, "t2v-f32");
}

TEST(DiTParity, ConditionedBatchWithMaskedContextMatches) {
  ParityCase pc;
  pc.config = tiny_dit_config();
  pc.config.in_dim = 9;  // 4 noise + 1 mask + 4 known-frame latents, as Wan I2V's 16 + 4 + 16
  pc.latent = {2, 4, 2, 6, 4};
  pc.text_len = 5;
  pc.timesteps = {999.f, 13.25f};
  pc.condition_channels = 5;
  pc.context_lens = {5, 3};
  run_parity(pc, "cond-f32");
}

TEST(DiTParity, Bf16ComputeStaysWithinBf16Tolerance) {
  ParityCase pc;
  pc.config = tiny_dit_config();
  pc.latent = {1, 4, 3, 4, 6};
  pc.timesteps = {500.f};
  pc.compute = DType::bf16;
  pc.tolerance = 2e-2;
  run_parity(pc, "t2v-bf16");
}

}  // namespace
}  // namespace kinema::test
