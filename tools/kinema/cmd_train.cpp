// `kinema train dit ...`: train the DiT with flow matching on a latent data set (synthetic
// latents for now; the world -> VAE -> latent path plugs in as another LatentDataset).
// Options come from one table, which also prints the help and the defaults.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"

namespace kinema::cli {
namespace {

struct TrainCli {
  int64_t steps = 100;
  std::string out;
  bool resume = false;
  int64_t save_every = 0;
  int64_t stop_after = 0;  // 0: run to --steps
  TrainerOptions trainer;
  DiTConfig model;
  SyntheticLatentOptions data;
  int64_t mask_channels = -1;  // -1: no frame conditioning
  uint64_t init_seed = 1;
  TrainCli() {
    trainer.batch_size = 4;
    trainer.lr = LrSchedule{1e-3f, 10, 100, 0.1f};
    model.dim = 64, model.num_heads = 4, model.num_layers = 2, model.ffn_dim = 128;
    model.freq_dim = 32, model.text_dim = 32, model.in_dim = 4, model.out_dim = 4;
  }
};

struct Option {
  const char* name;
  const char* hint;  // "" for a flag
  const char* help;
  std::function<std::string(const TrainCli&)> show;  // the default, for --help
  std::function<void(TrainCli&, const std::string&)> set;
};

// Both throw std::invalid_argument; the option loop turns that into an Error naming the option.
int64_t to_int(const std::string& v) {
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != 0) throw std::invalid_argument("not an integer");
  return x;
}
float to_float(const std::string& v) {
  char* end = nullptr;
  float x = std::strtof(v.c_str(), &end);
  if (v.empty() || *end != 0) throw std::invalid_argument("not a number");
  return x;
}

#define KI(field) [](const TrainCli& c) { return std::to_string(c.field); }, \
                  [](TrainCli& c, const std::string& v) { c.field = decltype(c.field)(to_int(v)); }
#define KF(field) [](const TrainCli& c) { char b[32]; std::snprintf(b, 32, "%g", double(c.field)); return std::string(b); }, \
                  [](TrainCli& c, const std::string& v) { c.field = to_float(v); }

const std::vector<Option>& options() {
  static const std::vector<Option> table = {
      {"--steps", "N", "train until the optimizer has taken N steps in all (a resumed run goes on to N)", KI(steps)},
      {"--out", "DIR", "checkpoints (DIR/step-NNNNNNNN, DIR/latest) and DIR/train_log.csv",
       [](const TrainCli& c) { return c.out.empty() ? std::string("(required)") : c.out; },
       [](TrainCli& c, const std::string& v) { c.out = v; }},
      {"--resume", "", "continue from DIR/latest (model, EMA, optimizer, step, data position, RNG)",
       [](const TrainCli&) { return std::string("off"); }, [](TrainCli& c, const std::string&) { c.resume = true; }},
      {"--stop-after", "N", "stop (and save) once step N is done, as if interrupted there; the schedule still ends at --steps", KI(stop_after)},
      {"--save-every", "N", "also save a checkpoint every N steps (0: only at the end)", KI(save_every)},
      {"--batch", "B", "samples per micro-batch", KI(trainer.batch_size)},
      {"--accum", "K", "micro-batches per optimizer step (gradient accumulation)", KI(trainer.accumulation)},
      {"--lr", "X", "peak learning rate (AdamW)", KF(trainer.lr.peak)},
      {"--warmup", "N", "linear warm-up steps, then cosine decay to --min-lr-ratio x peak at --steps", KI(trainer.lr.warmup_steps)},
      {"--min-lr-ratio", "X", "final learning rate as a fraction of the peak", KF(trainer.lr.min_ratio)},
      {"--weight-decay", "X", "AdamW decoupled weight decay", KF(trainer.adamw.weight_decay)},
      {"--clip", "X", "clip the global gradient norm to X (0: off)", KF(trainer.clip_norm)},
      {"--ema", "X", "EMA decay of the weights, kept in f32 (0: off)", KF(trainer.ema_decay)},
      {"--compute", "f32|bf16", "matmul precision (master weights and optimizer stay f32)",
       [](const TrainCli& c) { return std::string(dtype_name(c.trainer.compute)); },
       [](TrainCli& c, const std::string& v) { c.trainer.compute = dtype_from_name(v); }},
      {"--grad-checkpointing", "", "recompute each block in backward (less memory, ~1/3 more time)",
       [](const TrainCli&) { return std::string("off"); },
       [](TrainCli& c, const std::string&) { c.trainer.checkpointing = DiTCheckpointing::blocks; }},
      {"--seed", "N", "data order and the trainer's RNG (timesteps, noise, dropout, patterns)", KI(trainer.seed)},
      {"--caption-dropout", "P", "probability of training on the empty caption (for CFG)", KF(trainer.flow.caption_dropout)},
      {"--logit-mean", "X", "timesteps t = sigmoid(N(mean, std))", KF(trainer.flow.logit_mean)},
      {"--logit-std", "X", "", KF(trainer.flow.logit_std)},
      {"--shift", "S", "timestep shift t' = S t / (1 + (S - 1) t); 0: sqrt(tokens / --base-tokens)", KF(trainer.flow.shift)},
      {"--base-tokens", "N", "token count at which the automatic shift is 1", KI(trainer.flow.base_tokens)},
      {"--mask-channels", "K", "frame conditioning: in_dim = C + K mask + C known (Wan I2V: 4); -1: off", KI(mask_channels)},
      {"--dim", "D", "new model: token width", KI(model.dim)},
      {"--heads", "H", "new model: attention heads", KI(model.num_heads)},
      {"--layers", "N", "new model: blocks", KI(model.num_layers)},
      {"--ffn", "F", "new model: MLP width", KI(model.ffn_dim)},
      {"--init-seed", "N", "new model: seed of the random init (Wan's init_weights)", KI(init_seed)},
      {"--latents", "N", "synthetic data: number of latents", KI(data.count)},
      {"--channels", "C", "synthetic data: latent channels", KI(data.channels)},
      {"--frames", "T", "synthetic data: latent frames", KI(data.frames)},
      {"--height", "H", "synthetic data: latent height", KI(data.height)},
      {"--width", "W", "synthetic data: latent width", KI(data.width)},
      {"--text-len", "L", "synthetic data: caption tokens", KI(data.text_len)},
      {"--text-dim", "D", "synthetic data: text encoder width", KI(data.text_dim)},
      {"--data-seed", "N", "synthetic data: seed", KI(data.seed)},
  };
  return table;
}
#undef KI
#undef KF

// Ctrl-C (SIGINT) or SIGTERM: finish the step in flight, save, exit 130.
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

void print_help() {
  std::printf(
      "usage: kinema train dit --steps N --out DIR [--resume] [options]\n\n"
      "Trains the DiT by flow matching: x_t = (1 - t) x0 + t eps, loss = |DiT(x_t, 1000 t, text) - (eps - x0)|^2,\n"
      "t logit-normal and shifted towards noise for larger latents, 10%% caption dropout. Data: synthetic\n"
      "latents for now (the world -> VAE -> latent path comes next). Interrupt at any time; the same command\n"
      "with --resume continues from the last checkpoint and gives the same losses as an uninterrupted run.\n"
      "Progress goes to stderr; DIR/train_log.csv holds step,loss,lr,grad_norm,seconds. See docs/train.md.\n\n"
      "options (default in brackets):\n");
  for (const Option& o : options()) {
    std::string left = std::string(o.name) + (o.hint[0] ? std::string(" ") + o.hint : "");
    std::printf("  %-22s %s [%s]\n", left.c_str(), o.help, o.show(TrainCli()).c_str());
  }
}

int train_dit(int argc, char** argv) {
  TrainCli c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return print_help(), 0;
    const Option* found = nullptr;
    for (const Option& o : options())
      if (a == o.name) found = &o;
    check(found != nullptr, "train", "unknown option '", a, "'; `kinema train dit --help` lists them");
    std::string value;
    if (found->hint[0]) {
      check(i + 1 < argc, "train", a, " needs a value (", found->hint, ")");
      value = argv[++i];
    }
    try {
      found->set(c, value);
    } catch (const std::exception&) {
      fail("train", a, " needs ", found->hint, "; got '", value, "'");
    }
  }
  check(!c.out.empty(), "train", "--out DIR is required");
  check(c.steps > 0, "train", "--steps must be positive; got ", c.steps);
  c.trainer.lr.total_steps = c.steps;
  c.model.text_dim = c.data.text_dim;
  c.model.out_dim = c.data.channels;
  c.model.in_dim = c.mask_channels < 0 ? c.data.channels : 2 * c.data.channels + c.mask_channels;
  SyntheticLatentDataset data(c.data);

  std::string ck = c.resume ? find_checkpoint(c.out) : "";
  check(!c.resume || !ck.empty(), "train", "--resume: no checkpoint in ", c.out);
  // A resumed model takes its config from the checkpoint (shapes and metadata), not the flags.
  DiT model = ck.empty() ? DiT::init_random(c.model, c.init_seed)
                         : DiT::from_tensors(load_tensors(ck + "/model.safetensors"), DiTLoadOptions{true});
  DiTTrainer trainer(model, data, c.trainer);
  if (!ck.empty()) {
    trainer.load(ck);
    std::fprintf(stderr, "resumed from %s at step %lld\n", ck.c_str(),
                 static_cast<long long>(trainer.steps_done()));
  }
  std::filesystem::create_directories(c.out);
  CsvLog log(c.out + "/train_log.csv", trainer.steps_done());
  const int64_t last = c.stop_after > 0 ? std::min(c.stop_after, c.steps) : c.steps;
  ProgressBar bar(trainer.steps_done(), c.steps);
  g_stop = 0;
  auto old_int = std::signal(SIGINT, on_stop_signal), old_term = std::signal(SIGTERM, on_stop_signal);
  while (trainer.steps_done() < last && !g_stop) {
    StepStats s = trainer.step();
    log.write(s);
    bar.update(s);
    if (c.save_every > 0 && s.step % c.save_every == 0 && s.step < c.steps) trainer.save(c.out);
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  bar.finish();
  std::string saved = trainer.save(c.out);
  std::printf("%s: step %lld, data position %lld\n", saved.c_str(),
              static_cast<long long>(trainer.steps_done()), static_cast<long long>(trainer.data_position()));
  if (g_stop) {
    std::fprintf(stderr, "interrupted; continue with the same command plus --resume\n");
    return 130;
  }
  return 0;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::printf("usage: kinema train dit --steps N --out DIR [--resume] [options]\n"
                "  `kinema train dit --help` lists the options (vae and text training: not yet)\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string what = argv[1];
  if (what == "dit") return train_dit(argc - 1, argv + 1);
  fail("train", "unknown model '", what, "'; expected dit (vae and text: not yet)");
}

}  // namespace kinema::cli
