// End-to-end generation time of the default model (issue 7's speed target: a 2 s 128x128 clip
// with the default steps on 2 threads in < 10 s), split into text encoding, sampling and VAE
// decoding, and the DiT forward's share of this machine's bf16 peak during sampling (FLOPs
// counted analytically; with CFG every step runs the DiT twice). The model is
// $KINEMA_MODEL or models/default (run from the repository root); without one it says so.
#include <cstdlib>
#include <filesystem>

#include "bench_common.hpp"
#include "kinema/pipeline.hpp"

using namespace kinema;
using namespace kinema::bench;

int main() {
  const char* env = std::getenv("KINEMA_MODEL");
  const std::string dir = env ? env : "models/default";
  if (!std::filesystem::exists(dir + "/model.json")) {
    std::printf("bench_generate: no model at %s (set KINEMA_MODEL or run from the repository root)\n", dir.c_str());
    return 0;
  }
  Peaks peaks = read_peaks();
  Pipeline pipe = Pipeline::load(dir);
  GenerateRequest r;
  r.prompt = "a red circle moves to the right on a blue background";
  r.width = 128, r.height = 128, r.seed = 1;
  r = pipe.resolve(r);  // the model's defaults: frames, steps, sampler, cfg
  GenerateTimings best{1e30, 1e30, 1e30};
  double best_total = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now_s();
    GenerateResult g = pipe.generate(r);
    const double total = now_s() - t0;
    if (total < best_total) best_total = total, best = g.seconds;
  }
  const DiTConfig& c = pipe.dit().config();
  const int64_t tokens = ((r.frames - 1) / 4 + 1) * (r.height / 16) * (r.width / 16);
  const int calls = r.steps * (r.cfg == 1.f ? 1 : 2);
  const double flops = double(calls) * dit_forward_flops(c, tokens, 80);
  const std::string clip = std::to_string(r.width) + "x" + std::to_string(r.height) + "x" +
                           std::to_string(r.frames) + " " + std::to_string(r.steps) + " " + r.sampler + " steps";
  report("generate", clip + " total", best_total, "s", 0);
  report("generate", clip + " text encoding", best.text, "s", 0);
  report("generate", clip + " sampling", best.sampling, "s", 0);
  report("generate", clip + " VAE decode", best.decode, "s", 0);
  report("generate", "DiT forward during sampling vs bf16 peak", flops / best.sampling / 1e9, "GFLOP/s",
         peaks.bf16_gflops);
  return 0;
}
