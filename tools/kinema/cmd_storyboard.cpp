// `kinema generate --storyboard shots.json` and `kinema generate "a red ball rolls [shot]
// close-up of the red ball"`: the shots streamed into one signed file, the cuts recorded as
// seams in OUT.continuity.json (docs/modes.md).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "kinema/characters.hpp"
#include "kinema/dist.hpp"
#include "kinema/error.hpp"
#include "kinema/storyboard.hpp"
#include "signed_output.hpp"
#include "storyboard_cli.hpp"

namespace kinema::cli {
namespace {

Storyboard read_board(const ModeCli& c, const std::string& file) {
  if (file.empty()) return storyboard_from_prompt(c.req.prompt, c.seconds);
  check(c.req.prompt.empty(), "generate", "give either a prompt or --storyboard FILE, not both");
  std::ifstream in(file);
  check(bool(in), "generate", "cannot read the storyboard ", file);
  return storyboard_from_json(std::string(std::istreambuf_iterator<char>(in), {}));
}

// Every shot's @NAME resolved; the characters' reference goes in front of every shot.
void cast_shots(const Pipeline& pipe, Storyboard& board, GenerateRequest& base, bool quiet) {
  std::string all;
  for (const Shot& s : board.shots) all += s.prompt + " ";
  GenerateRequest whole = base;
  whole.prompt = all;
  resolve_characters(pipe, whole, true);
  if (whole.reference.empty()) return;
  const CharacterStore store(default_character_dir());
  for (Shot& s : board.shots) s.prompt = cast_prompt(s.prompt, store, whole.width, whole.height).prompt;
  base.width = whole.width, base.height = whole.height, base.reference = whole.reference;
  if (!quiet) std::fprintf(stderr, "characters: %zu reference frames in front of every shot\n", base.reference.size());
}

}  // namespace

int run_storyboard(ModeCli& c, const std::string& file) {
  Storyboard board = read_board(c, file);
  std::string joined;
  for (const Shot& s : board.shots) {  // the policy reads every shot
    c.req.prompt = s.prompt;
    if (int rc = check_mode_policy(c, "generate")) return rc;
    joined += (joined.empty() ? "" : " [shot] ") + s.prompt;
  }
  c.req.prompt = joined;
  Pipeline pipe = load_mode_pipeline(c, "generate");
  GenerateRequest base = c.req;
  cast_shots(pipe, board, base, c.quiet);
  StoryboardOptions so;
  so.mode = c.mode;
  const std::vector<ShotPlan> plans = plan_storyboard(pipe, board, base, so);
  GenerateRequest sized = base;
  sized.frames = 1, sized.reference.clear();
  sized = pipe.resolve(sized);
  int total = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    total += plans[i].frames;
    if (!c.quiet)
      std::fprintf(stderr, "shot %zu (%s, %d frames): %s\n", i + 1,
                   plans[i].framing == Framing::close ? "close-up" : "wide", plans[i].frames, plans[i].caption.c_str());
  }
  Provenance prov;
  prov.model_name = pipe.manifest().name, prov.model_hash = pipe.model_digest(), prov.seed = base.seed;
  prov.sampler = {{"sampler", sized.sampler}, {"steps", std::to_string(sized.steps)}, {"cfg", std::to_string(sized.cfg)},
                  {"shots", std::to_string(plans.size())}};
  prov.prompt = joined, prov.record_prompt = c.record_prompt;
  const bool root = !base.sequence_parallel || base.sequence_parallel->is_root();
  std::unique_ptr<SignedOutput> out;
  if (root)
    out = std::make_unique<SignedOutput>(SignedOutputOptions{c.out, c.preview, sized.width, sized.height, sized.fps,
                                                             total, prov, c.watermark_key, c.frames});
  ContinuityMeter meter(SubjectOptions{std::max(1, total / 240)});  // at most ~240 frames go to the detector
  const ModeResult m = generate_storyboard(pipe, board, base, so, [&](const Frame& f) {
    if (!root) return;
    meter.add(f);
    out->write(f);
  }, mode_progress(c));
  if (!root) return 0;
  out->close();
  const ContinuityScorecard card = meter.finish(m.seams, "storyboard", false);
  std::ofstream(c.out + ".continuity.json") << scorecard_json(card) << "\n";
  std::fprintf(stderr, "%s\n", scorecard_summary(card).c_str());
  std::printf("%s\n", c.out.c_str());
  if (!c.quiet)
    std::fprintf(stderr, "wrote %s (%d frames, %zu shots, %d clips sampled)\n", c.out.c_str(), out->frames_written(),
                 plans.size(), m.chunks);
  return 0;
}

}  // namespace kinema::cli
