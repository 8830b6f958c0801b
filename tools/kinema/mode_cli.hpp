// What the mode commands (generate, extend, loop, join, edit) share: the common options, the
// prompt policy, reading input videos at a valid size, and writing a signed output with its
// preview and continuity scorecard (docs/modes.md).
#pragma once
#include <string>
#include <vector>

#include "kinema/modes.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/safety.hpp"
#include "option_table.hpp"

namespace kinema::cli {

struct ModeCli {
  GenerateRequest req;
  std::string out = "kinema.mp4", model, size, policy, preview, type;
  float seconds = 0;
  ModeOptions mode;
  bool no_expand = false, record_prompt = false, quiet = false, no_frame_review = false;
  std::string watermark_key;  // operator passphrase mixed into the watermark
  FramePolicy frames;         // frame review, from the policy file (check_mode_policy)
  bool backward = false, no_paste = false, no_anchor = false;  // per-command extras
  std::vector<std::string> inputs;  // positional arguments after the command (files, then the prompt)
};

// Rows every mode command accepts; a command appends its own.
std::vector<Option<ModeCli>> common_mode_options();

// --vae-tile N|auto: "auto" or a latent tile side >= 0; anything else is an Error saying what
// is valid. The rows below write Cli::req.vae_tile (generate and the mode commands).
int64_t parse_vae_tile(const std::string& value);
std::string vae_tile_text(int64_t tile);
// The guidance interval and projected guidance (GenerateRequest), for a CLI with a `req`.
template <class Cli>
std::vector<Option<Cli>> guidance_options() {
  return {
      {"--guidance-from", "T",
       "guidance interval: from noise level T in (0, 1] on, guide with --cfg-high instead (0: --cfg throughout; "
       "default: the model's)",
       KINEMA_OPT_FLOAT(req.guidance_from)},
      {"--cfg-high", "X", "guidance scale at noise levels >= --guidance-from (default: the model's)",
       KINEMA_OPT_FLOAT(req.cfg_high)},
      {"--cfg-parallel", "X",
       "projected guidance (APG): share of the guidance step kept along the clean estimate, in [0, 1] (1: plain "
       "CFG; default: the model's)",
       KINEMA_OPT_FLOAT(req.guidance_parallel)},
      {"--cfg-cap", "R",
       "projected guidance: cap on the guidance step's RMS per latent frame, in latent units (0: none; default: "
       "the model's)",
       KINEMA_OPT_FLOAT(req.guidance_cap)},
      {"--no-layout", "",
       "a model with a layout path draws from the caption alone, without the expanded prompt's plan (where each "
       "object is, its colour and shape)",
       [](const Cli& c) { return std::string(c.req.layout ? "off" : "on"); },
       [](Cli& c, const std::string&) { c.req.layout = false; }},
      {"--plan-guidance", "0|1",
       "with a plan: 1 draws the unconditional branch without it too, so --cfg pushes towards the plan as well "
       "as the caption; 0 gives both branches the plan (default: the model's)",
       [](const Cli& c) { return c.req.plan_guidance < 0 ? std::string("model's") : std::to_string(c.req.plan_guidance); },
       [](Cli& c, const std::string& v) { c.req.plan_guidance = to_switch(v, "--plan-guidance"); }},
  };
}
template <class Cli>
std::vector<Option<Cli>> vae_tile_options() {
  return {
      {"--vae-tile", "N|auto",
       "VAE decode in spatial tiles of N x N latent pixels (8N output pixels with Wan2.1's VAE), blended "
       "across the overlap: memory is bounded by the tile, not the frame or the clip; 0 = one piece; auto = "
       "tiles of 32 only when one piece would not fit in the memory available",
       [](const Cli& c) { return vae_tile_text(c.req.vae_tile.tile); },
       [](Cli& c, const std::string& v) { c.req.vae_tile.tile = parse_vae_tile(v); }},
      {"--vae-tile-overlap", "N", "latent pixels neighbouring VAE tiles share (less than --vae-tile)",
       KINEMA_OPT_INT(req.vae_tile.overlap)},
  };
}
// After parsing: the tile against its overlap, naming the flags.
void check_vae_tile(const DecodeTiling& tiling, const char* command);
// Parses argv: positionals into c.inputs, options by the table. False when --help was asked.
bool parse_mode_cli(const std::vector<Option<ModeCli>>& table, int argc, char** argv, ModeCli& c,
                    const char* command);
// Applies --size, --no-expand, the anchor/paste flags; loads the model.
Pipeline load_mode_pipeline(ModeCli& c, const char* command);
// The prompt policy on the prompt and negative prompt; returns 0 or the refusal exit status (5).
// Fills c.frames from the same policy file.
int check_mode_policy(ModeCli& c, const char* command);
// Reads a video (or image) at the request's size or, when no --size was given, at its own size
// rounded to the nearest multiple of 16 (centre crop) with a note on stderr. Sets c.req's size
// from the first input read. Missing files are an Error naming them.
std::vector<Frame> read_mode_input(const std::string& path, const Pipeline& pipe, ModeCli& c, const char* command);
// Progress bar on stderr (nothing when quiet).
ProgressFn mode_progress(const ModeCli& c);
// Writes frames to c.out (signed), the preview sheet and, when `scorecard` is set, OUT.continuity.json
// plus its summary on stderr.
void write_mode_output(const Pipeline& pipe, const ModeCli& c, const std::vector<Frame>& frames,
                       const GenerateResult& info, const ContinuityScorecard* scorecard);
std::string default_model_dir();
// --type: the DiT's storage type on load ("" = as stored); an unknown name is an Error.
PipelineLoadOptions load_options(const std::string& type);

}  // namespace kinema::cli
