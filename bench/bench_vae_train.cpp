// VAE training throughput (issue 6): one optimizer step of the default model's VAE shape
// (dim 16, z 16, mults 1,2,4,4, one res block per stage) and of the twice-as-wide dim 32, on
// the recipe's data (25-frame 64x64 crops of world clips, batch 2, no images), with f32 and
// bf16 convolution products (conv3d_autocast), two threads. Reports clips/s and the bf16
// speed-up, the two interleaved so the machine's load hits both alike. The convolutions are
// most of a step (oneDNN's verbose log: ~80% at dim 32 in bf16); their fraction of the peak at
// these widths is bench_conv3d's.
#include <memory>

#include "bench_common.hpp"
#include "kinema/vae_train.hpp"
#include "kinema/world_video.hpp"

using namespace kinema;
using namespace kinema::bench;

int main() {
  world::WorldVideoOptions data;
  data.count = 1000, data.frames = 25, data.crop = 64, data.image_fraction = 0, data.seed = 1;
  world::WorldVideoDataset clips(data);
  for (int64_t dim : {16, 32}) {
    std::vector<std::unique_ptr<VAE>> models;
    std::vector<std::unique_ptr<VaeTrainer>> trainers;
    std::vector<Variant> variants;
    for (DType compute : {DType::f32, DType::bf16}) {
      VaeConfig c;
      c.dim = dim, c.z_dim = 16, c.dim_mult = {1, 2, 4, 4}, c.num_res_blocks = 1;
      c.temporal_downsample = {false, true, true};
      models.push_back(std::make_unique<VAE>(VAE::init_random(c, 1)));
      VaeTrainerOptions o;
      o.batch_size = 2, o.compute = compute;
      o.lr = LrSchedule{1e-4f, 0, 1000, 0.1f};
      trainers.push_back(std::make_unique<VaeTrainer>(*models.back(), clips, o));
      VaeTrainer* t = trainers.back().get();
      variants.push_back({std::string(dtype_name(compute)), [t] { t->step(); }, {}});
    }
    const std::vector<double> s = interleaved(variants, 3);
    const std::string name = "train step dim " + std::to_string(dim) + " 2x25x64x64 ";
    report("vae_train", name + "f32 clips/s", 2.0 / s[0], "clips/s", 0);
    report("vae_train", name + "bf16 clips/s", 2.0 / s[1], "clips/s", 0);
    report("vae_train", name + "bf16 speed-up", s[0] / s[1], "x", 0);
  }
  return 0;
}
