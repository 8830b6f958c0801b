// `kinema edit in.mp4 "prompt" --strength 0.6`: SDEdit, the input's latent noised to the
// strength and denoised with the new prompt; keeps the input's layout and motion (docs/modes.md).
#include <cstdio>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "mode_cli.hpp"
#include "storyboard_cli.hpp"

namespace kinema::cli {

int cmd_edit(int argc, char** argv) {
  ModeCli c;
  auto table = common_mode_options();
  table.push_back({"--strength", "X", "how far to move from the input, in [0, 1] (0: its decode, 1: ignore it)",
                   KINEMA_OPT_FLOAT(req.strength)});
  if (!parse_mode_cli(table, argc, argv, c, "edit")) {
    std::printf("usage: kinema edit in.mp4 \"PROMPT\" --strength 0.6 [-o out.mp4]\n\n"
                "Restyles or changes a video by prompt (SDEdit): the input is encoded, noised to the strength\n"
                "and denoised with the new prompt. One pass: the input's length is bounded by memory.\n\n");
    print_options(table);
    return 0;
  }
  check(c.inputs.size() == 2, "edit", "give a video and a prompt: kinema edit in.mp4 \"the circle is blue\" --strength 0.6");
  c.req.prompt = c.inputs[1];
  check(c.req.strength >= 0 && c.req.strength <= 1, "edit", "--strength must lie in [0, 1]; got ", c.req.strength);
  if (int rc = check_mode_policy(c, "edit")) return rc;
  Pipeline pipe = load_mode_pipeline(c, "edit");
  std::vector<Frame> input = read_mode_input(c.inputs[0], pipe, c, "edit");
  resolve_characters(pipe, c.req, c.quiet);  // @NAME (storyboard_cli.hpp)
  const size_t keep = 1 + (input.size() - 1) / 4 * 4;  // clips have 1 + 4k frames
  if (keep != input.size())
    std::fprintf(stderr, "note: %s has %zu frames; editing the first %zu (clips have 1 + 4k frames)\n",
                 c.inputs[0].c_str(), input.size(), keep);
  input.resize(keep);
  c.req.edit = std::move(input);
  c.req.frames = int(keep);
  GenerateResult g = pipe.generate(c.req, mode_progress(c));
  write_mode_output(pipe, c, g.frames, g, nullptr);
  return 0;
}

}  // namespace kinema::cli
