// `kinema train vae ...`: train the causal video VAE on world clips (reconstruction + KL), or its
// decoder alone on a frozen encoder (--decoder-only).
#include <cmath>
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
  bool decoder_only = false;  // the decoder trains on --init's frozen encoder
  int64_t decoder_dim = 0;    // 0: --init's decoder; else a new one of this base width
  bool decode_mean = false;   // decode mu instead of a sample in training
  float time_conv_lr = 1;     // learning-rate multiplier of the time resamplers' weights
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
      {"--motion", "W", "weight of the error in each frame-to-frame change, mean ((x̂_{t+1} - x̂_t) - (x_{t+1} - x_t))^2: against the stutter of a decoder that redraws one frame per latent frame (`vae recon` reports it)", KF(trainer.motion_weight)},
      {"--kl", "W", "weight of the KL to N(0, 1)", KF(trainer.kl_weight)},
      {"--chroma-weight", "W", "weight of colour errors against brightness errors (1: plain RGB loss)", KF(trainer.chroma_weight)},
      {"--dim", "D", "new model: width of the first stage", KI(model.dim)},
      {"--z-dim", "Z", "new model: latent channels", KI(model.z_dim)},
      {"--mults", "LIST", "new model: stage widths as multiples of --dim", KINEMA_OPT_STRING(mults)},
      {"--temporal", "LIST", "new model: which downsampling stages also halve time (0/1 each)", KINEMA_OPT_STRING(temporal)},
      {"--res-blocks", "N", "new model: residual blocks per encoder stage", KI(model.num_res_blocks)},
      {"--init-seed", "N", "new model (or new --decoder-dim decoder): seed of the init", KI(init_seed)},
      {"--init", "FILE", "warm start from these weights (a fresh optimizer; the architecture comes from the file)", KINEMA_OPT_STRING(init)},
      {"--init-logvar", "X", "new model: start the posterior log-variance at X (conv1's bias; 0: as initialised)", KF(init_logvar)},
      {"--decoder-only", "", "train the decoder alone on --init's frozen encoder: the latent space (and a DiT trained on it) stays; no KL", KINEMA_OPT_FLAG(decoder_only)},
      {"--decoder-dim", "D", "with --decoder-only: a new decoder of base width D (Wan's init; default: train --init's decoder on)", KI(decoder_dim)},
      {"--decode-mean", "", "decode mu in training, not a sampled latent", KINEMA_OPT_FLAG(decode_mean)},
      {"--time-conv-lr", "X", "multiply the learning rate of the time resamplers (every *.time_conv.* weight: what turns a latent frame into its 4 frames and back) by X. `vae inflate` starts them as copies and at the clip rate they barely move (session 22: 1-3.5% in 3,500 steps)", KF(time_conv_lr)},
      {"--compute", "f32|bf16|auto", "the convolutions' products (master weights and optimizer stay f32). bf16 is ~1.6x faster where the CPU runs bf16 dot products at full rate (Zen 4/5), 0.65x on some Xeons; auto times a GEMM and picks",
       KINEMA_OPT_COMPUTE(trainer.compute)},
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
      "loss = l1 |x^ - x| + l2 (x^ - x)^2 + motion (change of x^ - x from frame to frame)^2 + kl KL, x^\n"
      "decoded from a sampled latent. Interrupt at any time; the same command with --resume continues exactly.\n"
      "DIR/latest/ema.safetensors is the VAE to use.\n"
      "--decoder-only --init VAE [--decoder-dim D] trains a (wider) decoder for VAE's latents and leaves\n"
      "its encoder and latent statistics as they are.\n"
      "Fastest from scratch (docs/train.md): images first (--frames 1 --images 1 --batch 8), then\n"
      "`kinema vae inflate` and clips (--init INFLATED --frames 25 --lr 6e-5).\n\n");
  print_options(options());
}

// A new model (from the --dim ... options), --init's weights, or the checkpoint's (--resume).
VAE whole_model(const VaeCli& c, const std::string& ck) {
  check(c.decoder_dim == 0, "train vae", "--decoder-dim sizes a new decoder for --decoder-only; add "
        "--decoder-only --init VAE, or drop --decoder-dim");
  const std::string weights = !ck.empty() ? ck + "/model.safetensors" : c.init;
  VAE model = weights.empty() ? VAE::init_random(c.model, c.init_seed)
                              : VAE::from_tensors(load_tensors(weights), VaeLoadOptions{true});
  if (weights.empty() && c.init_logvar != 0) {
    // The second half of conv1's outputs is the log-variance (Wan: mu, log_var = conv1(h).chunk(2)).
    float* bias = model.weight("conv1.bias").data<float>();
    for (int64_t i = c.model.z_dim; i < 2 * c.model.z_dim; ++i) bias[i] = c.init_logvar;
  }
  return model;
}

// The latent space is the encoder's: a resumed decoder must sit on --init's encoder.
void check_same_encoder(const VAE& model, const std::string& init_path) {
  const VAE init = VAE::from_tensors(load_tensors(init_path));
  for (const auto& [key, w] : init.weights())
    check(is_vae_decoder_key(key) || (model.weights().count(key) && model.weight(key).to_vector() == w.to_vector()),
          "train vae", "the checkpoint's ", key, " differs from ", init_path, "'s: this run trains a decoder "
          "for another encoder; resume with the --init it started from");
}

// --decoder-only: --init's encoder with its decoder or a new one of --decoder-dim; on --resume
// the checkpoint's weights (its encoder checked against --init's when given).
VAE decoder_only_model(const VaeCli& c, const std::string& ck) {
  check(c.init_logvar == 0, "train vae", "--init-logvar starts the encoder's log-variance, which "
        "--decoder-only freezes; drop one of them");
  check(c.decoder_dim >= 0, "train vae", "--decoder-dim must be positive; got ", c.decoder_dim);
  if (!ck.empty()) {
    VAE model = VAE::from_tensors(load_tensors(ck + "/model.safetensors"), VaeLoadOptions{true});
    const int64_t width = model.config().decoder_width();
    check(c.decoder_dim == 0 || c.decoder_dim == width, "train vae", "--decoder-dim ", c.decoder_dim,
          ", but the checkpoint in ", c.out, " trains a decoder of width ", width,
          "; resume with --decoder-dim ", width, ", or give a new --out");
    if (!c.init.empty()) check_same_encoder(model, c.init);
    return model;
  }
  check(!c.init.empty(), "train vae", "--decoder-only trains a decoder for the latents of an existing "
        "encoder; name its VAE with --init FILE (e.g. ../runs/vae-s4.safetensors)");
  TensorFile init = load_tensors(c.init);
  const int64_t width = infer_vae_config(init.tensors, init.metadata).decoder_width();
  if (c.decoder_dim == 0 || c.decoder_dim == width) return VAE::from_tensors(init, VaeLoadOptions{true});
  return VAE::from_tensors(vae_with_new_decoder(init, c.decoder_dim, c.init_seed), VaeLoadOptions{true});
}

}  // namespace

int train_vae(int argc, char** argv) {
  VaeCli c;
  if (!parse_options(options(), argc, argv, c, "train vae")) return print_help(), 0;
  check(!c.out.empty(), "train vae", "--out DIR is required");
  check(c.steps > 0, "train vae", "--steps must be positive; got ", c.steps);
  c.trainer.lr.total_steps = c.steps;
  c.trainer.trained = c.decoder_only ? VaeTrainedPart::decoder : VaeTrainedPart::whole;
  c.trainer.decoder_input = c.decode_mean ? VaeDecoderInput::mean : VaeDecoderInput::sample;
  check(std::isfinite(c.trainer.motion_weight) && c.trainer.motion_weight >= 0, "train vae", "--motion must be >= 0; got ",
        c.trainer.motion_weight);
  check(std::isfinite(c.time_conv_lr) && c.time_conv_lr >= 0, "train vae", "--time-conv-lr must be >= 0; got ", c.time_conv_lr);
  if (c.time_conv_lr != 1) c.trainer.lr_scales.push_back({".time_conv.", c.time_conv_lr});
  use_mpi_ranks(c.trainer);
  note_slow_bf16(c.trainer);
  c.model.dim_mult = int_list(c.mults);
  c.model.temporal_downsample.clear();
  for (int64_t b : int_list(c.temporal)) c.model.temporal_downsample.push_back(b != 0);
  world::WorldVideoDataset data(c.data);

  std::string ck = c.resume ? find_checkpoint(c.out) : "";
  check(!c.resume || !ck.empty(), "train vae", "--resume: no checkpoint in ", c.out);
  VAE model = c.decoder_only ? decoder_only_model(c, ck) : whole_model(c, ck);
  VaeTrainer trainer(model, data, c.trainer);
  if (!ck.empty()) {
    trainer.load(ck);
    std::fprintf(stderr, "resumed from %s at step %lld\n", ck.c_str(), static_cast<long long>(trainer.steps_done()));
  }
  return run_train_loop(trainer, c);
}

}  // namespace kinema::cli
