// `kinema train text ...`: pretrain the text encoder by masked-token prediction on world captions.
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/text_train.hpp"
#include "kinema/tokenizer.hpp"
#include "kinema/world_captions.hpp"
#include "option_table.hpp"
#include "train_loop.hpp"

namespace kinema::cli {
namespace {

struct TextCli : TrainLoopCli {
  TextTrainerOptions trainer;
  TextEncoderConfig model;
  world::CaptionDatasetOptions data;
  std::string tokenizer = "models/default/tokenizer.model";
  uint64_t init_seed = 1;
  int64_t eval_every = 0, eval_captions = 512;
  TextCli() {
    trainer.batch_size = 32;
    trainer.lr = LrSchedule{1e-3f, 100, 100, 0.1f};
    trainer.adamw.weight_decay = 0.01f;
    trainer.ema_decay = 0.999f;
    // The default model's encoder (umT5-shaped, per-block position bias); vocab from the tokenizer.
    model.dim = 256, model.dim_attn = 256, model.num_heads = 4, model.ffn_dim = 512;
    model.num_layers = 4, model.num_buckets = 32, model.max_distance = 128, model.shared_pos = false;
  }
};

#define KI KINEMA_OPT_INT
#define KF KINEMA_OPT_FLOAT
const std::vector<Option<TextCli>>& options() {
  static const std::vector<Option<TextCli>> table = {
      KINEMA_TRAIN_LOOP_OPTIONS,
      {"--eval-every", "N", "print the held-out masked-token accuracy every N steps and at the end (0: only at the end)", KI(eval_every)},
      {"--eval-captions", "N", "size of the fixed held-out caption set", KI(eval_captions)},
      KINEMA_OPTIMIZER_OPTIONS("captions"),
      {"--compute", "f32|bf16|auto", "matmul dtype (auto: whichever this CPU multiplies faster, timed)", KINEMA_OPT_COMPUTE(trainer.compute)},
      {"--mask", "P", "share of each caption's tokens to predict", KF(trainer.masking.mask_fraction)},
      {"--emphasis", "W", "relative masking chance of colour, shape and spatial words", KF(trainer.masking.emphasis)},
      {"--max-length", "N", "tokens per caption (longer ones truncated; 0: any)", KI(trainer.max_length)},
      {"--tokenizer", "FILE", "sentencepiece model (its vocabulary sizes the encoder)", KINEMA_OPT_STRING(tokenizer)},
      {"--dim", "D", "new model: width", KI(model.dim)},
      {"--dim-attn", "D", "new model: q/k/v width", KI(model.dim_attn)},
      {"--heads", "H", "new model: attention heads", KI(model.num_heads)},
      {"--ffn", "F", "new model: gated-GELU hidden width", KI(model.ffn_dim)},
      {"--layers", "N", "new model: blocks", KI(model.num_layers)},
      {"--buckets", "N", "new model: relative position buckets", KI(model.num_buckets)},
      {"--max-distance", "N", "new model: distance of the last position bucket", KI(model.max_distance)},
      {"--init-seed", "N", "new model: seed of the init", KI(init_seed)},
      {"--short", "P", "data: share of short prompts instead of detailed captions", KF(data.short_prompt_fraction)},
      {"--images", "P", "data: share of one-frame scenes", KF(data.image_fraction)},
      {"--data-seed", "N", "data: world seed", KI(data.seed)},
  };
  return table;
}
#undef KI
#undef KF

void print_help() {
  std::printf(
      "usage: kinema train text --steps N --out DIR [--resume] [options]\n\n"
      "Pretrains the text encoder on procedural world captions (detailed captions, --short of them\n"
      "short prompts; scenes of 128x128, 160x96, 96x160, images and 25-frame clips; held-out\n"
      "combinations never drawn) by masked-token prediction: --mask of the tokens chosen (colour,\n"
      "shape and spatial words --emphasis times as often), 80%% replaced by the mask id <0x00>, 10%%\n"
      "by a random piece, 10%% kept; loss = cross-entropy of (h / sqrt(dim)) . token_embedding^T at\n"
      "the chosen tokens. Interrupt at any time; the same command with --resume continues exactly.\n"
      "ema.safetensors in the checkpoint that DIR/latest names is the encoder to use\n"
      "(TextEncoder::from_tensors); the held-out accuracy printed is that of those EMA weights.\n\n");
  print_options(options());
}

}  // namespace

int train_text(int argc, char** argv) {
  TextCli c;
  if (!parse_options(options(), argc, argv, c, "train text")) return print_help(), 0;
  check(!c.out.empty(), "train text", "--out DIR is required");
  check(c.steps > 0, "train text", "--steps must be positive; got ", c.steps);
  check(c.trainer.batch_size > 0, "train text", "--batch must be positive; got ", c.trainer.batch_size);
  check(c.trainer.accumulation > 0, "train text", "--accum must be positive; got ", c.trainer.accumulation);
  check(c.eval_every >= 0, "train text", "--eval-every must be >= 0; got ", c.eval_every);
  check(c.eval_captions > 0, "train text", "--eval-captions must be positive; got ", c.eval_captions);
  check(c.trainer.masking.mask_fraction > 0 && c.trainer.masking.mask_fraction <= 1, "train text",
        "--mask must be in (0, 1]; got ", c.trainer.masking.mask_fraction);
  check(c.data.short_prompt_fraction >= 0 && c.data.short_prompt_fraction <= 1, "train text",
        "--short must be in [0, 1]; got ", c.data.short_prompt_fraction);
  check(c.data.image_fraction >= 0 && c.data.image_fraction <= 1, "train text",
        "--images must be in [0, 1]; got ", c.data.image_fraction);
  c.trainer.lr.total_steps = c.steps;
  use_mpi_ranks(c.trainer);
  note_slow_bf16(c.trainer);

  const Tokenizer tokenizer = Tokenizer::load(c.tokenizer);
  const float mask = c.trainer.masking.mask_fraction, emphasis = c.trainer.masking.emphasis;
  c.trainer.masking = masking_for(tokenizer);
  c.trainer.masking.mask_fraction = mask, c.trainer.masking.emphasis = emphasis;
  c.model.vocab_size = tokenizer.vocab_size();
  world::CaptionDataset data(tokenizer, c.data);
  const world::CaptionDataset heldout = world::heldout_caption_set(tokenizer, c.eval_captions);
  TextEvalOptions eval;
  eval.masking.mask_id = c.trainer.masking.mask_id;
  eval.masking.random_first = c.trainer.masking.random_first;
  eval.masking.pad_id = c.trainer.masking.pad_id, eval.masking.eos_id = c.trainer.masking.eos_id;
  eval.masking.mask_fraction = mask, eval.masking.emphasis = emphasis;
  eval.max_length = c.trainer.max_length;
  eval.compute = c.trainer.compute;

  std::string ck = c.resume ? find_checkpoint(c.out) : "";
  check(!c.resume || !ck.empty(), "train text", "--resume: no checkpoint in ", c.out);
  TextEncoder model = ck.empty() ? TextEncoder::init_random(c.model, c.init_seed)
                                 : TextEncoder::from_tensors(load_tensors(ck + "/model.safetensors"),
                                                             TextEncoderLoadOptions{true});
  check(model.config().vocab_size == tokenizer.vocab_size(), "train text", "the checkpoint's vocabulary (",
        model.config().vocab_size, ") is not the tokenizer's (", tokenizer.vocab_size(), ")");
  TextTrainer trainer(model, data, c.trainer);
  if (!ck.empty()) {
    trainer.load(ck);
    std::fprintf(stderr, "resumed from %s at step %lld\n", ck.c_str(), static_cast<long long>(trainer.steps_done()));
  }
  // The held-out accuracy of the EMA weights (what DIR/latest/ema.safetensors holds).
  auto report = [&](int64_t step) {
    const TextEncoder ema = TextEncoder::from_tensors(trainer.ema_tensors());
    std::fprintf(stderr, "\nstep %lld held-out (EMA, %lld captions): %s\n", static_cast<long long>(step),
                 static_cast<long long>(c.eval_captions), evaluate_masked_accuracy(ema, heldout, eval).summary().c_str());
  };
  std::function<void(const StepStats&)> on_step;
  if (c.eval_every > 0)
    on_step = [&](const StepStats& s) {
      if (s.step % c.eval_every == 0 && s.step < c.steps) report(s.step);
    };
  const int rc = run_train_loop(trainer, c, on_step);
  report(trainer.steps_done());
  return rc;
}

}  // namespace kinema::cli
