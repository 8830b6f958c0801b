// `kinema join a.mp4 b.mp4 "prompt" --seconds S`: a, a generated transition from a's end to b's
// start, then b (docs/modes.md).
#include <cstdio>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "mode_cli.hpp"
#include "storyboard_cli.hpp"

namespace kinema::cli {

int cmd_join(int argc, char** argv) {
  ModeCli c;
  c.seconds = 1;
  auto table = common_mode_options();
  table.push_back({"--seconds", "S", "seconds of transition (up to 60)", [](const ModeCli&) { return std::string("1"); },
                   [](ModeCli& c, const std::string& v) { c.seconds = to_float(v); }});
  table.push_back({"--context", "K", "latent frames of each video given to the model (4 video frames each)",
                   KINEMA_OPT_INT(mode.context_latents)});
  table.push_back({"--seam-fade", "N", "new frames over which the VAE's error at a seam fades out (0: none)",
                   KINEMA_OPT_INT(mode.seam_fade)});
  table.push_back({"--guidance-ramp", "N", "latent frames over which guidance rises from the given frames to --cfg (0: cfg throughout)",
                   KINEMA_OPT_INT(mode.guidance_ramp)});
  table.push_back({"--no-paste", "", "do not paste the given frames' latents back after sampling", KINEMA_OPT_FLAG(no_paste)});
  if (!parse_mode_cli(table, argc, argv, c, "join")) {
    std::printf("usage: kinema join a.mp4 b.mp4 \"PROMPT\" --seconds S [-o out.mp4]\n\n"
                "Generates the transition from the end of a to the start of b and writes a + transition + b.\n\n");
    print_options(table);
    return 0;
  }
  check(c.inputs.size() == 3, "join", "give two videos and a prompt: kinema join a.mp4 b.mp4 \"the star drifts left\" --seconds 1");
  c.req.prompt = c.inputs[2];
  check(c.seconds > 0 && c.seconds <= kMaxSeconds, "join", "--seconds must lie in (0, ", kMaxSeconds, "]; got ", c.seconds);
  if (int rc = check_mode_policy(c, "join")) return rc;
  Pipeline pipe = load_mode_pipeline(c, "join");
  const std::vector<Frame> a = read_mode_input(c.inputs[0], pipe, c, "join");
  const std::vector<Frame> b = read_mode_input(c.inputs[1], pipe, c, "join");  // at a's size
  resolve_characters(pipe, c.req, c.quiet);  // @NAME (storyboard_cli.hpp)
  const int fps = c.req.fps > 0 ? c.req.fps : pipe.manifest().fps;
  ModeResult m = join_videos(pipe, a, b, c.req, frames_for_seconds(c.seconds, fps), c.mode, mode_progress(c));
  const ContinuityScorecard s = continuity_scorecard(m.frames, m.seams, "join", false);
  write_mode_output(pipe, c, m.frames, m.last, &s);
  return 0;
}

}  // namespace kinema::cli
