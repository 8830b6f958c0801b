// `kinema train dit ...`: train the DiT with flow matching on a latent data set: synthetic
// latents (tests, smoke runs) or the world -> VAE -> latent set (--data world).
// Options come from one table, which also prints the help and the defaults.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <stdexcept>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/text_encoder.hpp"
#include "kinema/tokenizer.hpp"
#include "kinema/train.hpp"
#include "kinema/train_samples.hpp"
#include "kinema/vae.hpp"
#include "kinema/world_latents.hpp"
#include "option_table.hpp"
#include "train_loop.hpp"

namespace kinema::cli {
namespace {

// Gives warm-start weights the pooled-text and position paths the model asks for, at zero (the
// model computes what it did): the tensors its config lists with them and the file lacks.
void add_paths(TensorFile& dit, const DiTConfig& want) {
  DiTConfig c = infer_dit_config(dit.tensors, dit.metadata);
  c.pooled_text = c.pooled_text || want.pooled_text;
  c.absolute_position = c.absolute_position || want.absolute_position;
  const bool widen = c.layout_channels == world::kLayoutChannels && want.layout_channels == world::kSilhouetteLayoutChannels;
  check(c.layout_channels == 0 || want.layout_channels == 0 || c.layout_channels == want.layout_channels || widen,
        "train dit", "--init's layout path has ", c.layout_channels, " channels; --layout asks for ",
        want.layout_channels);
  if (widen) {  // --layout 1's weights take the silhouette channels at zero
    Tensor& w = dit.tensors.at("layout_embedding.weight");  // [dim, K, pt, ph, pw]
    Shape extra = w.shape();
    extra[1] = want.layout_channels - c.layout_channels;
    w = concat({cast(w, DType::f32), Tensor::zeros(extra)}, 1);
  }
  c.layout_channels = std::max(c.layout_channels, want.layout_channels);
  add_missing_at_zero(dit.tensors, c);
}

// "TxHxW" (e.g. 1x1x1) -> {t, h, w}.
std::array<int64_t, 3> parse_patch(const std::string& v) {
  char x1 = 0, x2 = 0, rest = 0;
  long long a = 0, b = 0, d = 0;
  const bool ok = std::sscanf(v.c_str(), "%lld%c%lld%c%lld%c", &a, &x1, &b, &x2, &d, &rest) == 5 && x1 == 'x' &&
                  x2 == 'x' && a > 0 && b > 0 && d > 0 && a <= 16 && b <= 16 && d <= 16;
  check(ok, "train dit", "--patch must be TxHxW with sides 1..16, e.g. 1x1x1 or 1x2x2; got '", v, "'");
  return {a, b, d};
}

// Model-size flags whose default depends on --data: {synthetic, world}; set() pins a value.
struct DataDefault {
  int64_t synthetic, world;
  bool set = false;
  int64_t value = 0;
  int64_t get(bool world_data) const { return set ? value : world_data ? world : synthetic; }
};

struct TrainCli : TrainLoopCli {
  TrainerOptions trainer;
  DiTConfig model;
  SyntheticLatentOptions data;
  std::string source = "synthetic";
  world::WorldLatentOptions world;
  std::string vae = "models/default/vae.safetensors";
  std::string text_encoder = "models/default/text_encoder.safetensors";
  std::string tokenizer = "models/default/tokenizer.model";
  std::string init;  // warm start: DiT weights (a joint file brings its text encoder)
  int64_t precompute = 0;
  std::string sizes = size_list(world::WorldLatentOptions{}.sizes);  // --sizes
  int64_t sample_every = 0;   // 0: no sample videos
  std::string sample_prompts;  // "": default_sample_prompts
  TrainSampleOptions sample;
  // The default model (--data world): dim 256, 4 heads, 8 layers, ffn 1024, frame conditioning.
  DataDefault dim{64, 256}, heads{4, 4}, layers{2, 8}, ffn{128, 1024};
  DataDefault mask_channels{-1, 4};  // -1: no frame conditioning
  DataDefault joint_text{0, 1};      // train the text encoder with the DiT (world data)
  DataDefault pooled_text{0, 1};     // DiTConfig::pooled_text (a new model, or added to --init's)
  DataDefault position{0, 0};        // DiTConfig::absolute_position (likewise; off until a shipped model has it)
  int64_t layout = 0;  // DiTConfig::layout_channels = world::kLayoutChannels (a new model, or added to --init's)
  uint64_t init_seed = 1;
  std::string patch;  // "TxHxW"; "": 1x2x2 for a new model, --init's own
  TrainCli() {
    world.count = 100000;
    trainer.batch_size = 4;
    trainer.lr = LrSchedule{1e-3f, 10, 100, 0.1f};
    model.dim = 64, model.num_heads = 4, model.num_layers = 2, model.ffn_dim = 128;
    model.freq_dim = 32, model.text_dim = 32, model.in_dim = 4, model.out_dim = 4;
  }
};

#define KI KINEMA_OPT_INT
#define KF KINEMA_OPT_FLOAT
#define KS KINEMA_OPT_STRING
// A DataDefault row: "64 (world: 256)" in --help.
#define KD(field)                                                                              \
  [](const TrainCli& c) {                                                                      \
    return std::to_string(c.field.synthetic) + " (world: " + std::to_string(c.field.world) + ")"; \
  },                                                                                           \
  [](TrainCli& c, const std::string& v) { c.field.set = true, c.field.value = to_int(v); }

const std::vector<Option<TrainCli>>& options() {
  static const std::vector<Option<TrainCli>> table = {
      KINEMA_TRAIN_LOOP_OPTIONS,
      KINEMA_OPTIMIZER_OPTIONS("samples"),
      {"--compute", "f32|bf16|auto", "matmul precision (master weights and optimizer stay f32; auto: whichever this CPU multiplies faster, timed once)", KINEMA_OPT_COMPUTE(trainer.compute)},
      {"--sequence-parallel", "", "under mpirun: the ranks split each clip's tokens (Ulysses) instead of the batch",
       [](const TrainCli&) { return std::string("off"); },
       [](TrainCli& c, const std::string&) { c.trainer.split = TrainLoopOptions::Split::sequence; }},
      {"--grad-checkpointing", "", "recompute each block in backward (less memory, ~1/3 more time)",
       [](const TrainCli&) { return std::string("off"); },
       [](TrainCli& c, const std::string&) { c.trainer.checkpointing = DiTCheckpointing::blocks; }},
      {"--caption-dropout", "P", "probability of training on the empty caption (for CFG)", KF(trainer.flow.caption_dropout)},
      {"--logit-mean", "X", "timesteps t = sigmoid(N(mean, std))", KF(trainer.flow.logit_mean)},
      {"--logit-std", "X", "", KF(trainer.flow.logit_std)},
      {"--shift", "S", "timestep shift t' = S t / (1 + (S - 1) t); 0: sqrt(tokens / --base-tokens)", KF(trainer.flow.shift)},
      {"--blur", "P", "outline-blind inputs: share of samples with t >= --blur-from whose x_t shows their latent "
                      "blurred in space, taught to restore the sharp one (the outline must come from the caption)",
       KF(trainer.flow.blur_prob)},
      {"--blur-from", "T", "outline-blind inputs: lowest t that may be blurred", KF(trainer.flow.blur_min_t)},
      {"--blur-sigma-min", "S", "outline-blind inputs: Gaussian sigma drawn in [min, max], latent pixels",
       KF(trainer.flow.blur_sigma_min)},
      {"--blur-sigma-max", "S", "", KF(trainer.flow.blur_sigma_max)},
      {"--base-tokens", "N", "token count at which the automatic shift is 1", KI(trainer.flow.base_tokens)},
      {"--mask-channels", "K", "frame conditioning: in_dim = C + K mask + C known (Wan I2V: 4); -1: off", KD(mask_channels)},
      {"--dim", "D", "new model: token width", KD(dim)},
      {"--heads", "H", "new model: attention heads", KD(heads)},
      {"--layers", "N", "new model: blocks", KD(layers)},
      {"--ffn", "F", "new model: MLP width", KD(ffn)},
      {"--patch", "TxHxW",
       "latent voxels per token (default 1x2x2, Wan's); with --init, its weights are carried to the smaller patch "
       "(taps summed, head rows averaged; body kept): 1x1x1 gives 4x the tokens per object",
       [](const TrainCli& c) { return c.patch.empty() ? std::string("1x2x2 (--init: its own)") : c.patch; },
       [](TrainCli& c, const std::string& v) { c.patch = v; }},
      {"--init-seed", "N", "new model: seed of the random init (Wan's init_weights)", KI(init_seed)},
      {"--pooled-text", "0|1", "the caption's mean token added to the time embedding (text_pool; kinema's, not Wan's); "
                               "with --init, added at zero to weights without it", KD(pooled_text)},
      {"--position", "0|1", "each token's place in the frame added after patch_embedding (pos_embedding; kinema's, "
                            "not Wan's: RoPE alone gives only relative offsets); with --init, added at zero",
       KD(position)},
      {"--layout", "0|1|2", "world data: ground the DiT on each clip's layout map (where each object is, its colour, "
                          "shape and place within it; layout_embedding, kinema's), which generation takes from the "
                          "expanded prompt's plan; 2 adds each object's silhouette (a 4x4 grid of cells per latent "
                          "position); with --init, added at zero (a --layout 1 model's path widened)", KI(layout)},
      {"--layout-drop", "P", "with --layout: share of samples trained without their layout (text alone)",
       KF(trainer.flow.layout_drop)},
      {"--init", "FILE", "warm start from these DiT weights (e.g. models/default/dit.safetensors, or a run's "
                         "ema.safetensors, whose text encoder then replaces --text-encoder); fresh optimizer and schedule", KS(init)},
      {"--latents", "N", "synthetic data: number of latents", KI(data.count)},
      {"--channels", "C", "synthetic data: latent channels", KI(data.channels)},
      {"--frames", "T", "synthetic data: latent frames", KI(data.frames)},
      {"--height", "H", "synthetic data: latent height", KI(data.height)},
      {"--width", "W", "synthetic data: latent width", KI(data.width)},
      {"--text-len", "L", "synthetic data: caption tokens", KI(data.text_len)},
      {"--text-dim", "D", "synthetic data: text encoder width", KI(data.text_dim)},
      {"--data-seed", "N", "synthetic data: seed", KI(data.seed)},
      {"--data", "synthetic|world", "training data: synthetic latents, or world clips -> VAE latents + text encoder",
       [](const TrainCli& c) { return c.source; },
       [](TrainCli& c, const std::string& v) {
         check(v == "synthetic" || v == "world", "train dit", "--data must be synthetic or world; got '", v, "'");
         c.source = v;
       }},
      {"--vae", "FILE", "world data: the frozen VAE (with latents_mean/std from `kinema vae stats`)", KS(vae)},
      {"--text-encoder", "FILE", "world data: the text encoder (frozen, or the start of joint training)", KS(text_encoder)},
      {"--tokenizer", "FILE", "world data: the tokenizer", KS(tokenizer)},
      {"--train-text-encoder", "0|1", "world data: train the text encoder (from --text-encoder) with the DiT; 0: frozen", KD(joint_text)},
      {"--cache", "DIR", "world data: latent cache (DIR/<key>/, key = VAE encoder weights + data options)", KS(world.cache_dir)},
      {"--clips", "N", "world data: data set size (indices; clips are rendered and encoded on first use)", KI(world.count)},
      {"--images", "P", "world data: share of one-frame images (text-to-image)", KF(world.image_fraction)},
      {"--object-weight", "A", "world data: latent positions the objects cover weigh 1 + A in the flow loss "
                               "(then scaled to mean 1), so shapes count against the background; 0: all alike",
       KF(world.object_weight)},
      {"--shape-labels", "W", "world data: add W x the shape-label loss: the first 9 channels of block "
                              "--label-block's tokens, read as logits, must name what each token shows (background "
                              "or one of the 8 shapes, as the world drew it); 0: off",
       KF(trainer.label_weight)},
      {"--label-block", "N", "the block (0-based) whose output the shape-label loss reads", KI(trainer.label_block)},
      {"--model-guidance", "W", "train the conditional branch toward its own guided velocity (model guidance, "
                                "Tang et al. 2025): targets move by W x (conditional - unconditional prediction), "
                                "so sampling at CFG 1 acts like CFG 1/(1-W); 0 <= W < 1, one more forward pass "
                                "per step; 0: off",
       KF(trainer.model_guidance)},
      {"--focus", "P", "world data: share of samples that show one large object alone, so its shape word decides "
                       "much of the loss (the other samples keep their scenes and cached latents)",
       KF(world.focus_fraction)},
      {"--sizes", "LIST", "world data: render sizes WxH,WxH,... (multiples of the VAE's x8 and the patch; the first "
                          "is the sample clips'); objects scale with the frame, so 256x256 shows each at twice "
                          "the latent pixels", KS(sizes)},
      {"--world-seed", "N", "world data: world seed", KI(world.seed)},
      {"--precompute", "N", "world data: fill the latent cache for indices [0, N) and exit", KI(precompute)},
      {"--sample-every", "N", "world data: every N steps and at the end, rank 0 writes DIR/samples/step-NNNNNNNN/"
                              "{NN.mp4, sheet.png} from fixed prompts with the EMA weights (0: off)", KI(sample_every)},
      {"--sample-prompts", "FILE",
       "one prompt per line (default: 4 fixed prompts from the training scenes, none held out)",
       [](const TrainCli& c) { return c.sample_prompts.empty() ? "4 training prompts" : c.sample_prompts; },
       [](TrainCli& c, const std::string& v) { c.sample_prompts = v; }},
      {"--sample-steps", "S", "sampling steps of each sample clip", KI(sample.steps)},
      {"--sample-frames", "T", "frames of each sample clip (1 + 4k), at the data's first size (128x128)",
       KI(sample.frames)},
      {"--sample-seed", "N", "prompt i samples with seed N + i", KI(sample.seed)},
  };
  return table;
}
#undef KI
#undef KF
#undef KS
#undef KD

void print_help() {
  std::printf(
      "usage: kinema train dit --steps N --out DIR [--resume] [options]\n\n"
      "Trains the DiT by flow matching: x_t = (1 - t) x0 + t eps, loss = |DiT(x_t, 1000 t, text) - (eps - x0)|^2,\n"
      "t logit-normal and shifted towards noise for larger latents, 10%% caption dropout. Data: synthetic\n"
      "latents, or --data world: world clips (25 frames or images at 128x128, 160x96, 96x160, or --sizes) encoded by the\n"
      "frozen --vae, captions by the --text-encoder, trained with the DiT (--train-text-encoder 0: frozen);\n"
      "micro-batches never mix latent shapes. Interrupt at\n"
      "any time; the same command with --resume continues from the last checkpoint and gives the same losses\n"
      "as an uninterrupted run.\n"
      "Progress goes to stderr; DIR/train_log.csv holds step,loss,lr,grad_norm,seconds. With --sample-every N,\n"
      "DIR/samples/ gets a clip per fixed prompt and a contact sheet every N steps. See docs/train.md.\n\n");
  print_options(options());
}

// --sample-every: the prompts (from --sample-prompts or the training scenes) checked against the
// held-out split, and the sample size, fps and shift of the world data, before training starts.
// vae: the world data's (nullptr for synthetic data).
void prepare_samples(TrainCli& c, const VAE* vae) {
  check(c.sample_every >= 0, "train dit", "--sample-every must be >= 0; got ", c.sample_every);
  if (c.sample_every == 0) return;
  check(vae != nullptr, "train dit", "--sample-every needs --data world (samples are decoded by its VAE and ",
        "prompted through its text encoder; synthetic latents have neither)");
  check(c.sample.steps > 0, "train dit", "--sample-steps must be positive; got ", c.sample.steps);
  const int tc = int(vae->config().temporal_compression());
  check(c.sample.frames > 0 && (c.sample.frames - 1) % tc == 0, "train dit", "--sample-frames must be 1 + ", tc,
        "k (the VAE compresses time by ", tc, "); got ", c.sample.frames);
  TrainSampleOptions& o = c.sample;
  o.width = c.world.sizes.at(0).first, o.height = c.world.sizes.at(0).second, o.fps = c.world.fps;
  o.base_tokens = c.trainer.flow.base_tokens, o.max_text_len = c.world.max_text_len;
  o.prompts = c.sample_prompts.empty() ? default_sample_prompts(c.world.video(), o)
                                       : read_sample_prompts(c.sample_prompts);
  check_sample_prompts(o);
}

// After every --sample-every-th step and the run's last, the EMA weights sample the prompts into
// DIR/samples/. run_train_loop calls this on rank 0 only. A failed sample is a warning: the run
// goes on.
std::function<void(const StepStats&)> sample_hook(const TrainCli& c, const DiTTrainer& trainer, const VAE& vae,
                                                  const Tokenizer& tokenizer, const TextEncoder* frozen) {
  const int64_t last = c.stop_after > 0 ? std::min(c.stop_after, c.steps) : c.steps;
  return [&c, &trainer, &vae, &tokenizer, frozen, last](const StepStats& s) {
    if ((s.step % c.sample_every != 0 && s.step != last) || stop_requested()) return;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      const Pipeline pipe = sampling_pipeline(trainer.ema_tensors(), frozen, vae, tokenizer, c.sample);
      const std::string dir = write_train_samples(c.out + "/samples", s.step, sample_clips(pipe, c.sample), c.sample);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "\nsamples: %s (%.1f s)\n", dir.c_str(), seconds);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "\nwarning: no samples at step %lld: %s\n", static_cast<long long>(s.step), e.what());
    }
  };
}

int train_dit(int argc, char** argv) {
  TrainCli c;
  if (!parse_options(options(), argc, argv, c, "train dit")) return print_help(), 0;
  // --precompute only fills the latent cache: no --out needed.
  check(!c.out.empty() || c.precompute > 0, "train", "--out DIR is required");
  check(c.steps > 0, "train", "--steps must be positive; got ", c.steps);
  c.trainer.lr.total_steps = c.steps;
  check_flow_options(c.trainer.flow);
  use_mpi_ranks(c.trainer);
  note_slow_bf16(c.trainer);
  const bool world_data = c.source == "world";
  check(c.trainer.label_weight >= 0 && std::isfinite(c.trainer.label_weight), "train dit",
        "--shape-labels must be a weight >= 0; got ", c.trainer.label_weight);
  check(c.trainer.label_weight == 0 || world_data, "train dit",
        "--shape-labels needs --data world (the world knows which shape covers each latent position)");
  c.world.shape_labels = c.trainer.label_weight > 0;
  c.model.dim = c.dim.get(world_data), c.model.num_heads = c.heads.get(world_data);
  c.model.num_layers = c.layers.get(world_data), c.model.ffn_dim = c.ffn.get(world_data);
  if (world_data) c.model.freq_dim = 256;
  c.model.pooled_text = c.pooled_text.get(world_data) != 0;
  c.model.absolute_position = c.position.get(world_data) != 0;
  check(c.layout >= 0 && c.layout <= 2, "train dit", "--layout must be 0, 1 or 2 (with silhouettes); got ", c.layout);
  check(c.layout == 0 || world_data, "train dit", "--layout needs --data world (the world knows where its objects are)");
  c.model.layout_channels = c.layout == 2 ? world::kSilhouetteLayoutChannels : c.layout ? world::kLayoutChannels : 0;
  c.world.layout_channels = c.model.layout_channels;
  const int64_t mask_channels = c.mask_channels.get(world_data);

  // --init: the DiT's weights, and the text encoder trained with it when the file carries one.
  auto [init_dit, init_text] = c.init.empty() ? std::pair<TensorFile, TensorFile>{}
                                              : split_text_encoder(load_tensors(c.init));
  if (!c.patch.empty()) c.model.patch_size = parse_patch(c.patch);
  if (!c.init.empty()) add_paths(init_dit, c.model);
  if (!c.init.empty() && !c.patch.empty()) repatch_dit(init_dit, c.model.patch_size);
  std::unique_ptr<LatentDataset> data;
  bool joint = false;
  std::unique_ptr<VAE> vae;
  std::unique_ptr<TextEncoder> encoder;
  std::unique_ptr<Tokenizer> tokenizer;
  c.world.sizes = to_sizes(c.sizes, "train dit", "--sizes");
  if (world_data) {
    auto need = [](const std::string& path, const char* flag, const char* hint) {
      check(std::filesystem::is_regular_file(path), "train dit", flag, ": no such file: ", path, hint);
    };
    need(c.vae, "--vae", " (train one with `kinema train vae`, then add latent statistics with `kinema vae stats`)");
    if (init_text.tensors.empty()) need(c.text_encoder, "--text-encoder", " (train one with `kinema train text`)");
    need(c.tokenizer, "--tokenizer", " (train one with `kinema text train`)");
    vae = std::make_unique<VAE>(VAE::from_tensors(load_tensors(c.vae)));
    if (vae->config().latents_mean.empty())
      std::fprintf(stderr, "warning: %s has no latents_mean/latents_std; latents are not normalised "
                           "(run `kinema vae stats`)\n", c.vae.c_str());
    joint = c.joint_text.get(true) != 0;
    c.world.encode_captions = !joint;
    encoder = std::make_unique<TextEncoder>(TextEncoder::from_tensors(
        init_text.tensors.empty() ? load_tensors(c.text_encoder) : init_text, TextEncoderLoadOptions{joint}));
    tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(c.tokenizer));
    auto w = std::make_unique<world::WorldLatentDataset>(*vae, *encoder, *tokenizer, c.world);
    if (c.precompute > 0) {
      const int64_t n = std::min(c.precompute, w->size());
      check(!c.world.cache_dir.empty(), "train dit", "--precompute needs --cache DIR");
      const int64_t computed = w->precompute(0, n);
      std::printf("latent cache %s/%s: %lld of %lld entries computed, the rest were cached\n",
                  c.world.cache_dir.c_str(), w->cache_key().c_str(), static_cast<long long>(computed),
                  static_cast<long long>(n));
      return 0;
    }
    c.model.text_dim = encoder->config().dim;
    c.model.out_dim = vae->config().z_dim;
    data = std::move(w);
    prepare_samples(c, vae.get());
  } else {
    check(c.precompute == 0, "train dit", "--precompute needs --data world");
    prepare_samples(c, nullptr);
    check(c.joint_text.get(false) == 0, "train dit", "--train-text-encoder needs --data world");
    c.model.text_dim = c.data.text_dim;
    c.model.out_dim = c.data.channels;
    data = std::make_unique<SyntheticLatentDataset>(c.data);
  }
  c.model.in_dim = mask_channels < 0 ? c.model.out_dim : 2 * c.model.out_dim + mask_channels;

  std::string ck = c.resume ? find_checkpoint(c.out) : "";
  check(!c.resume || !ck.empty(), "train", "--resume: no checkpoint in ", c.out);
  // A resumed model takes its config from the checkpoint (shapes and metadata), not the flags.
  // A joint checkpoint carries the text encoder too; trainer.load restores its weights in place
  // (the data set holds a reference to the encoder).
  auto [dit_file, text_file] = ck.empty() ? std::pair<TensorFile, TensorFile>{}
                                          : split_text_encoder(load_tensors(ck + "/model.safetensors"));
  check(ck.empty() || text_file.tensors.empty() != joint, "train dit", ck,
        joint ? " holds no text encoder; resume it with --train-text-encoder 0"
              : " holds a text encoder trained with the DiT; resume it with --train-text-encoder 1");
  check(ck.empty() || c.init.empty(), "train dit", "--init starts a new run; --resume continues ", ck,
        ": give one of them");
  DiT model = !ck.empty()       ? DiT::from_tensors(dit_file, DiTLoadOptions{true})
              : !c.init.empty() ? DiT::from_tensors(init_dit, DiTLoadOptions{true})
                                : DiT::init_random(c.model, c.init_seed);
  check(c.patch.empty() || model.config().patch_size == c.model.patch_size, "train dit", "--patch ", c.patch,
        ": the checkpoint ", ck, " was trained with patch ", model.config().patch_size[0], "x",
        model.config().patch_size[1], "x", model.config().patch_size[2], "; resume without --patch");
  check(model.config().out_dim == c.model.out_dim && model.config().text_dim == c.model.text_dim,
        "train dit", "the checkpoint's DiT (out_dim ", model.config().out_dim, ", text_dim ",
        model.config().text_dim, ") does not fit the data (latent channels ", c.model.out_dim,
        ", text width ", c.model.text_dim, ")");
  DiTTrainer trainer(model, *data, c.trainer, joint ? encoder.get() : nullptr);
  if (!ck.empty()) {
    trainer.load(ck);
    std::fprintf(stderr, "resumed from %s at step %lld\n", ck.c_str(),
                 static_cast<long long>(trainer.steps_done()));
  }
  std::function<void(const StepStats&)> on_step;
  if (c.sample_every > 0) on_step = sample_hook(c, trainer, *vae, *tokenizer, joint ? nullptr : encoder.get());
  return run_train_loop(trainer, c, on_step);
}

// Ctrl-C (SIGINT) or SIGTERM: finish the step in flight, save, exit 130. The compute thread
// blocks both and a watcher thread takes them (sigtimedwait): a handler run on the computing
// thread of an MPI rank corrupted its heap (docs/train.md, Multi-machine: 5 of 10 two-rank stops
// before, 0 of 8 after). Threads that existed before (MPI's) still run the flag-only handler.
std::atomic<int> g_stop{0};  // set by the handler and the watcher thread, read by the loop
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag is set from a signal handler");
extern "C" void on_stop_signal(int) { g_stop = 1; }
void (*g_old_int)(int) = nullptr;
void (*g_old_term)(int) = nullptr;
std::atomic<bool> g_watching{false};
std::thread g_watcher;
sigset_t g_stop_set, g_old_mask;

}  // namespace

StopSignals::StopSignals() {
  g_stop = 0;
  g_old_int = std::signal(SIGINT, on_stop_signal);
  g_old_term = std::signal(SIGTERM, on_stop_signal);
  sigemptyset(&g_stop_set);
  sigaddset(&g_stop_set, SIGINT);
  sigaddset(&g_stop_set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &g_stop_set, &g_old_mask);
  g_watching = true;
  g_watcher = std::thread([] {  // inherits the blocked set, as sigtimedwait needs
    const timespec wait{0, 100'000'000};
    while (g_watching)
      if (sigtimedwait(&g_stop_set, nullptr, &wait) > 0) g_stop = 1;
  });
}
StopSignals::~StopSignals() {
  g_watching = false;
  g_watcher.join();
  pthread_sigmask(SIG_SETMASK, &g_old_mask, nullptr);  // a pending signal lands in the handler
  std::signal(SIGINT, g_old_int);
  std::signal(SIGTERM, g_old_term);
}
bool stop_requested() { return g_stop != 0; }

bool all_ranks_stop(Communicator& comm) {
  double stop = stop_requested() ? 1 : 0;
  comm.allreduce_sum(&stop, 1);
  return stop > 0;
}

int cmd_train(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::printf("usage: kinema train vae|text|dit --steps N --out DIR [--resume] [options]\n"
                "  vae   the causal video VAE, on world clips (reconstruction + KL)\n"
                "  text  the text encoder, masked-token prediction on world captions\n"
                "  dit   the diffusion transformer, flow matching on VAE latents\n"
                "  `kinema train <model> --help` lists each one's options\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string what = argv[1];
  if (what == "dit") return train_dit(argc - 1, argv + 1);
  if (what == "vae") return train_vae(argc - 1, argv + 1);
  if (what == "text") return train_text(argc - 1, argv + 1);
  fail("train", "unknown model '", what, "'; expected vae, text or dit");
}

}  // namespace kinema::cli
