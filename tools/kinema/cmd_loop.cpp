// `kinema loop "prompt" --seconds S`: a seamless loop, a first pass then a bridge generated from
// its end back to its start (docs/modes.md).
#include <cstdio>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "mode_cli.hpp"
#include "storyboard_cli.hpp"

namespace kinema::cli {

int cmd_loop(int argc, char** argv) {
  ModeCli c;
  c.seconds = 3;
  auto table = common_mode_options();
  table.push_back({"--seconds", "S", "loop length in seconds (up to 60)", [](const ModeCli&) { return std::string("3"); },
                   [](ModeCli& c, const std::string& v) { c.seconds = to_float(v); }});
  table.push_back({"--context", "K", "latent frames given at each end of the bridge (4 video frames each)",
                   KINEMA_OPT_INT(mode.context_latents)});
  table.push_back({"--seam-fade", "N", "new frames over which the VAE's error at a seam fades out (0: none)",
                   KINEMA_OPT_INT(mode.seam_fade)});
  table.push_back({"--guidance-ramp", "N", "latent frames over which guidance rises from the given frames to --cfg (0: cfg throughout)",
                   KINEMA_OPT_INT(mode.guidance_ramp)});
  table.push_back({"--chunk-frames", "N", "frames per sampled chunk of the first pass (0: the model's clip length)",
                   KINEMA_OPT_INT(mode.chunk_frames)});
  if (!parse_mode_cli(table, argc, argv, c, "loop")) {
    std::printf("usage: kinema loop \"PROMPT\" --seconds S [-o out.mp4]\n\n"
                "Makes a seamless loop: the last frame leads back into the first. OUT.continuity.json measures\n"
                "the loop closure against the median frame-to-frame change.\n\n");
    print_options(table);
    return 0;
  }
  check(c.inputs.size() == 1, "loop", "give one prompt: kinema loop \"a green star spins\" --seconds 3");
  c.req.prompt = c.inputs[0];
  check(c.seconds > 0 && c.seconds <= kMaxSeconds, "loop", "--seconds must lie in (0, ", kMaxSeconds, "]; got ", c.seconds);
  if (int rc = check_mode_policy(c, "loop")) return rc;
  Pipeline pipe = load_mode_pipeline(c, "loop");
  resolve_characters(pipe, c.req, c.quiet);  // @NAME (storyboard_cli.hpp)
  const int fps = c.req.fps > 0 ? c.req.fps : pipe.manifest().fps;
  c.req.frames = 1 + std::max(8, frames_for_seconds(c.seconds, fps));  // at least two passes' worth
  ModeResult m = loop_video(pipe, c.req, c.mode, mode_progress(c));
  const ContinuityScorecard s = continuity_scorecard(m.frames, m.seams, "loop", true);
  write_mode_output(pipe, c, m.frames, m.last, &s);
  return 0;
}

}  // namespace kinema::cli
