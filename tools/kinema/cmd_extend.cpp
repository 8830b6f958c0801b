// `kinema extend in.mp4 "prompt" --seconds S [--backward]`: continues a video forward, or
// invents what came before it, keeping the input's frames exactly (docs/modes.md).
#include <cstdio>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "mode_cli.hpp"
#include "storyboard_cli.hpp"

namespace kinema::cli {

int cmd_extend(int argc, char** argv) {
  ModeCli c;
  c.seconds = 2;
  auto table = common_mode_options();
  table.push_back({"--seconds", "S", "seconds of new video (up to 60)", [](const ModeCli&) { return std::string("2"); },
                   [](ModeCli& c, const std::string& v) { c.seconds = to_float(v); }});
  table.push_back({"--backward", "", "invent what came before the input instead of continuing it", KINEMA_OPT_FLAG(backward)});
  table.push_back({"--context", "K", "latent frames of the input given to the model (4 video frames each)",
                   KINEMA_OPT_INT(mode.context_latents)});
  table.push_back({"--seam-fade", "N", "new frames over which the VAE's error at a seam fades out (0: none)",
                   KINEMA_OPT_INT(mode.seam_fade)});
  table.push_back({"--guidance-ramp", "N", "latent frames over which guidance rises from the given frames to --cfg (0: cfg throughout)",
                   KINEMA_OPT_INT(mode.guidance_ramp)});
  table.push_back({"--no-paste", "", "do not paste the given frames' latents back after sampling", KINEMA_OPT_FLAG(no_paste)});
  if (!parse_mode_cli(table, argc, argv, c, "extend")) {
    std::printf("usage: kinema extend in.mp4 \"PROMPT\" --seconds S [--backward] [-o out.mp4]\n\n"
                "Continues a video (or, with --backward, invents what came before it). The input's frames\n"
                "are kept exactly; OUT.continuity.json measures the seam.\n\n");
    print_options(table);
    return 0;
  }
  check(c.inputs.size() == 2, "extend", "give a video and a prompt: kinema extend in.mp4 \"the ball rolls on\" --seconds 2");
  c.req.prompt = c.inputs[1];
  check(c.seconds > 0 && c.seconds <= kMaxSeconds, "extend", "--seconds must lie in (0, ", kMaxSeconds, "]; got ", c.seconds);
  if (int rc = check_mode_policy(c, "extend")) return rc;
  Pipeline pipe = load_mode_pipeline(c, "extend");
  const std::vector<Frame> input = read_mode_input(c.inputs[0], pipe, c, "extend");
  resolve_characters(pipe, c.req, c.quiet);  // @NAME (storyboard_cli.hpp)
  const int fps = c.req.fps > 0 ? c.req.fps : pipe.manifest().fps;
  ModeResult m = extend_video(pipe, input, c.req, frames_for_seconds(c.seconds, fps), c.backward, c.mode,
                              mode_progress(c));
  const ContinuityScorecard s = continuity_scorecard(m.frames, m.seams, c.backward ? "extend backward" : "extend", false);
  write_mode_output(pipe, c, m.frames, m.last, &s);
  return 0;
}

}  // namespace kinema::cli
