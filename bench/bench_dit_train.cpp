// DiT training throughput at the default model's size as model FLOP utilisation (issue 6):
// dim 256, 4 heads, 8 layers, MLP 1024, frame conditioning (in 36, out 16), a 2 s 128x128 clip
// = latent [16, 7, 16, 16] = 448 tokens, 80 text tokens, batch 4; one optimizer step (forward,
// backward, clipping, AdamW, EMA). FLOPs are counted analytically (matmuls and attention,
// training = 3x forward); the fraction is of this machine's bf16 peak (the yardstick)
// and, since this CPU has no bf16 dot product, of its f32 FMA peak too. Also reports samples/s
// and tokens/s, for f32 and bf16 compute.
#include "bench_common.hpp"
#include "kinema/train.hpp"

using namespace kinema;
using namespace kinema::bench;

// Arguments (for profiling one case): [f32|bf16|both] [reps], default both 4.
int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "both";
  const int reps = argc > 2 ? std::atoi(argv[2]) : 4;
  Peaks peaks = read_peaks();
  const DiTConfig c = default_dit_config();
  SyntheticLatentOptions data;
  data.count = 8, data.channels = 16, data.frames = 7, data.height = 16, data.width = 16;
  data.text_len = 80, data.text_dim = 256;
  SyntheticLatentDataset set(data);
  const int64_t tokens = 7 * 8 * 8, batch = 4;
  const double flops = 3.0 * dit_forward_flops(c, tokens, data.text_len) * double(batch);
  for (DType compute : {DType::f32, DType::bf16}) {
    if (which != "both" && which != dtype_name(compute)) continue;
    DiT model = DiT::init_random(c, 1);
    TrainerOptions o;
    o.batch_size = batch, o.compute = compute;
    o.lr = LrSchedule{1e-4f, 0, 1000, 0.1f};
    DiTTrainer trainer(model, set, o);
    const double s = time_it([&] { trainer.step(); }, reps);
    const std::string name = std::string("train step dim256 L8 448 tok x4 ") + std::string(dtype_name(compute));
    report("dit_train", name + " vs bf16 peak", flops / s / 1e9, "GFLOP/s", peaks.bf16_gflops);
    report("dit_train", name + " vs f32 peak", flops / s / 1e9, "GFLOP/s", peaks.f32_gflops);
    report("dit_train", name + " samples/s", double(batch) / s, "samples/s", 0);
    report("dit_train", name + " tokens/s", double(batch * tokens) / s, "tokens/s", 0);
  }
  return 0;
}
