// `kinema train vae ...`: train the causal video VAE on world clips (reconstruction + KL).
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/vae_train.hpp"
#include "kinema/world_video.hpp"
#include "option_table.hpp"
#include "train_loop.hpp"

namespace kinema::cli {
namespace {

struct VaeCli : TrainLoopCli {
  VaeTrainerOptions trainer;
  VaeConfig model;
  world::WorldVideoOptions data;
  std::string mults = "1,2,4,4", temporal = "0,1,1";
  std::string init;  // warm start: weights (e.g. a committed EMA), fresh optimizer and schedule
  uint64_t init_seed = 1;
  float init_logvar = 0;  // 0: Wan's init (the posterior log-variance starts near 0)
  VaeCli() {
    trainer.batch_size = 2;
    trainer.lr = LrSchedule{5e-4f, 200, 100, 0.1f};
    trainer.ema_decay = 0.999f;
    model.dim = 16, model.z_dim = 16, model.num_res_blocks = 1;
  }
};

std::vector<int64_t> int_list(const std::string& v) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (i <= v.size()) {
    size_t j = v.find(',', i);
    if (j == std::string::npos) j = v.size();
    out.push_back(to_int(v.substr(i, j - i)));
    i = j + 1;
  }
  return out;
}

#define KI KINEMA_OPT_INT
#define KF KINEMA_OPT_FLOAT
const std::vector<Option<VaeCli>>& options() {
  static const std::vector<Option<VaeCli>> table = {
      KINEMA_TRAIN_LOOP_OPTIONS,
      KINEMA_OPTIMIZER_OPTIONS("clips"),
      {"--l1", "W", "weight of mean |x̂ - x|", KF(trainer.l1_weight)},
      {"--l2", "W", "weight of mean (x̂ - x)^2", KF(trainer.l2_weight)},
      {"--kl", "W", "weight of the KL to N(0, 1)", KF(trainer.kl_weight)},
      {"--chroma-weight", "W", "weight of colour errors against brightness errors (1: plain RGB loss)", KF(trainer.chroma_weight)},
      {"--dim", "D", "new model: width of the first stage", KI(model.dim)},
      {"--z-dim", "Z", "new model: latent channels", KI(model.z_dim)},
      {"--mults", "LIST", "new model: stage widths as multiples of --dim", KINEMA_OPT_STRING(mults)},
      {"--temporal", "LIST", "new model: which downsampling stages also halve time (0/1 each)", KINEMA_OPT_STRING(temporal)},
      {"--res-blocks", "N", "new model: residual blocks per encoder stage", KI(model.num_res_blocks)},
      {"--init-seed", "N", "new model: seed of the init", KI(init_seed)},
      {"--init", "FILE", "warm start from these weights (a fresh optimizer; the architecture comes from the file)", KINEMA_OPT_STRING(init)},
      {"--init-logvar", "X", "new model: start the posterior log-variance at X (conv1's bias; 0: as initialised)", KF(init_logvar)},
      {"--frames", "T", "data: frames per clip (1 + k x temporal compression)", KI(data.frames)},
      {"--crop", "S", "data: square crop side in pixels (0: whole frames)", KI(data.crop)},
      {"--images", "P", "data: share of one-frame images", KF(data.image_fraction)},
      {"--data-seed", "N", "data: world seed", KI(data.seed)},
      {"--clips", "N", "data: data set size (indices; the epoch length)", KI(data.count)},
  };
  return table;
}
#undef KI
#undef KF

void print_help() {
  std::printf(
      "usage: kinema train vae --steps N --out DIR [--resume] [options]\n\n"
      "Trains the causal video VAE on procedural world clips (random sizes 128x128, 160x96, 96x160,\n"
      "a window of --frames frames, a random --crop square; --images of them one-frame images):\n"
      "loss = l1 |x^ - x| + l2 (x^ - x)^2 + kl KL, x^ decoded from a sampled latent. Interrupt at any time;\n"
      "the same command with --resume continues exactly. DIR/latest/ema.safetensors is the VAE to use.\n\n");
  print_options(options());
}

}  // namespace

int train_vae(int argc, char** argv) {
  VaeCli c;
  if (!parse_options(options(), argc, argv, c, "train vae")) return print_help(), 0;
  check(!c.out.empty(), "train vae", "--out DIR is required");
  check(c.steps > 0, "train vae", "--steps must be positive; got ", c.steps);
  c.trainer.lr.total_steps = c.steps;
  use_mpi_ranks(c.trainer);
  c.model.dim_mult = int_list(c.mults);
  c.model.temporal_downsample.clear();
  for (int64_t b : int_list(c.temporal)) c.model.temporal_downsample.push_back(b != 0);
  world::WorldVideoDataset data(c.data);

  std::string ck = c.resume ? find_checkpoint(c.out) : "";
  check(!c.resume || !ck.empty(), "train vae", "--resume: no checkpoint in ", c.out);
  const std::string weights = !ck.empty() ? ck + "/model.safetensors" : c.init;
  VAE model = weights.empty() ? VAE::init_random(c.model, c.init_seed)
                              : VAE::from_tensors(load_tensors(weights), VaeLoadOptions{true});
  if (weights.empty() && c.init_logvar != 0) {
    // The second half of conv1's outputs is the log-variance (Wan: mu, log_var = conv1(h).chunk(2)).
    float* bias = model.weight("conv1.bias").data<float>();
    for (int64_t i = c.model.z_dim; i < 2 * c.model.z_dim; ++i) bias[i] = c.init_logvar;
  }
  VaeTrainer trainer(model, data, c.trainer);
  if (!ck.empty()) {
    trainer.load(ck);
    std::fprintf(stderr, "resumed from %s at step %lld\n", ck.c_str(), static_cast<long long>(trainer.steps_done()));
  }
  return run_train_loop(trainer, c);
}

}  // namespace kinema::cli
