// `kinema scorecard --modes`: issue 10's measured figures for every mode (image-to-video, extend
// both ways, join, loop, multi-shot, characters, edit, and with --long the 60 s check) on
// held-out prompts, with the world judge and the continuity scorecard (kinema/modes_scorecard.hpp).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "kinema/error.hpp"
#include "kinema/modes_scorecard.hpp"
#include "kinema/pipeline.hpp"
#include "option_table.hpp"

namespace fs = std::filesystem;

namespace kinema::cli {
namespace {

struct ModesCli {
  std::string model, out = "scorecard-modes";
  int64_t prompts = 4, steps = 0, seed = 1, context = 2, chunk_frames = 0, seam_fade = 12, guidance_ramp = 6,
          plan_guidance = -1;
  float cfg = -1, seconds = 2, strength = 0.6f, long_seconds = 60, short_seconds = 10;
  bool modes = false, long_check = false, no_layout = false;
};

const std::vector<Option<ModesCli>>& options() {
  static const std::vector<Option<ModesCli>> table = {
      {"--modes", "", "measure the modes (this command)", KINEMA_OPT_FLAG(modes)},
      {"--model", "DIR", "model directory (default: $KINEMA_MODEL, else the shipped model)", KINEMA_OPT_STRING(model)},
      {"--out", "DIR", "modes.json (figures, bars, counts, per-prompt values) and modes.md", KINEMA_OPT_STRING(out)},
      {"--prompts", "N", "held-out prompts, each run through every mode (~10 clips each)", KINEMA_OPT_INT(prompts)},
      {"--seed", "N", "which held-out prompts (the same as `kinema scorecard --seed`)", KINEMA_OPT_INT(seed)},
      {"--seconds", "S", "new video per extension, join and loop", KINEMA_OPT_FLOAT(seconds)},
      {"--strength", "X", "SDEdit strength of the edit", KINEMA_OPT_FLOAT(strength)},
      {"--context", "K", "latent frames of context at a seam", KINEMA_OPT_INT(context)},
      {"--seam-fade", "N", "new frames the VAE's error at a seam fades over (0: none)", KINEMA_OPT_INT(seam_fade)},
      {"--guidance-ramp", "N", "latent frames over which guidance rises from a seam to --cfg (0: cfg throughout)",
       KINEMA_OPT_INT(guidance_ramp)},
      {"--steps", "N", "sampling steps (default: the model's)", KINEMA_OPT_INT(steps)},
      {"--cfg", "X", "guidance scale (default: the model's)", KINEMA_OPT_FLOAT(cfg)},
      {"--no-layout", "", "a grounded model draws without the plan (from the caption and given frames alone)",
       KINEMA_OPT_FLAG(no_layout)},
      {"--plan-guidance", "0|1", "1: the unconditional branch without the plan too (-1: the model's)",
       KINEMA_OPT_INT(plan_guidance)},
      {"--long", "", "also the 60 s check (minutes: a long and a short render in chunks)", KINEMA_OPT_FLAG(long_check)},
      {"--long-seconds", "S", "the long render of --long", KINEMA_OPT_FLOAT(long_seconds)},
      {"--short-seconds", "S", "the render --long compares it with", KINEMA_OPT_FLOAT(short_seconds)},
      {"--chunk-frames", "N", "chunk length of --long's renders (0: the model's clip)", KINEMA_OPT_INT(chunk_frames)},
  };
  return table;
}

void print_help() {
  std::printf(
      "usage: kinema scorecard --modes [--prompts N] [--out DIR] [--long] [--model DIR]\n\n"
      "Runs every mode on N held-out prompts (the same ones `kinema scorecard` draws) and measures\n"
      "issue 10's figures. Inputs are ground truth: the world renders the scene each prompt expands\n"
      "to (the scene the model's caption describes and the judge checks), so:\n"
      "  image-to-video   the rendered first frame is given: frame 0's PSNR (>= 30 dB) and the\n"
      "                   prompt's motion claims (world judge, >= 80%%)\n"
      "  extend fwd/bwd   a rendered clip is extended by --seconds: subjects of the input found\n"
      "                   across the seam with the same colour and shape (>= 90%%), and the seam's\n"
      "                   change against the median frame-to-frame change (<= 1.5x)\n"
      "  join             the scene's start and end are joined: the same two figures\n"
      "  loop             closure, last -> first change against the median (<= 1.5x)\n"
      "  multi-shot       \"PROMPT [shot] close-up\": subjects kept across the cut (>= 90%%)\n"
      "  characters       the clip's first 5 frames as the reference: its subjects in the new clip\n"
      "  edit             the first subject recoloured in the prompt, SDEdit --strength: the judge\n"
      "                   sees the new colour and not the old (>= 80%%), subjects within 4 px of\n"
      "                   the input's\n"
      "  --long           a 60 s render against a 10 s one (12 fps, the model's size): peak memory\n"
      "                   (<= 1.1x), median chunk time (<= 1.1x: linear in length), compute per\n"
      "                   second of video, colour drift of subjects first -> last chunk (<= 5 dE)\n"
      "Shares pool every claim, subject and edit; ratios, dB and px are medians over prompts (or\n"
      "seams). Each prompt costs about ten clips: ~6 min on the shared 2-core machine at 30 steps\n"
      "(OMP_WAIT_POLICY=passive there: busy-waiting threads cost 5x); --long ~25 min more.\n\n");
  print_options(options());
}

void report(const ModesScorecard& card, const std::string& dir) {
  fs::create_directories(dir);
  std::ofstream(fs::path(dir) / "modes.json") << modes_scorecard_json(card);
  std::ofstream(fs::path(dir) / "modes.md")
      << "Model " << card.model << " (" << card.model_digest.substr(0, 12) << "), " << card.date << ", "
      << card.prompts << " held-out prompts, " << card.width << "x" << card.height << ", " << card.clip_frames
      << "-frame clips, " << card.steps << " steps, CFG " << card.cfg << "\n\n"
      << modes_scorecard_markdown(card);
  std::printf("%s", modes_scorecard_table(card).c_str());
  for (const std::string& n : card.notes) std::printf("note: %s\n", n.c_str());
  std::printf("wrote %s/modes.json and modes.md\n", dir.c_str());
}

}  // namespace

int cmd_scorecard_modes(int argc, char** argv) {
  ModesCli c;
  if (!parse_options(options(), argc, argv, c, "scorecard --modes")) return print_help(), 0;
  const char* env = std::getenv("KINEMA_MODEL");
  const Pipeline pipe = Pipeline::load(!c.model.empty() ? c.model : env ? env : KINEMA_DEFAULT_MODEL_DIR);
  ModesScorecardOptions o;
  o.prompts = int(c.prompts), o.seed = uint64_t(c.seed), o.steps = int(c.steps), o.cfg = c.cfg;
  o.seconds = c.seconds, o.edit_strength = c.strength, o.context_latents = int(c.context);
  o.seam_fade = int(c.seam_fade), o.guidance_ramp = int(c.guidance_ramp);
  o.layout = !c.no_layout, o.plan_guidance = int(c.plan_guidance);
  o.long_check = c.long_check, o.long_seconds = c.long_seconds, o.short_seconds = c.short_seconds;
  o.chunk_frames = int(c.chunk_frames);
  o.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  report(run_modes_scorecard(pipe, o), c.out);
  return 0;
}

}  // namespace kinema::cli
