// Each mode on one held-out prompt (src/generate/modes_measure.hpp): image-to-video from the
// rendered first frame, extensions and joins of rendered clips, loops, a two-shot storyboard and
// a character's reference, each measured with the world judge or the continuity scorecard.
#include "generate/modes_measure.hpp"

#include <algorithm>

#include "kinema/storyboard.hpp"

namespace kinema::detail {
namespace {

std::vector<Frame> slice(const std::vector<Frame>& v, size_t from, size_t to) {
  return {v.begin() + ptrdiff_t(from), v.begin() + ptrdiff_t(to)};
}

// Identity pooled over the seams.
void add_identity(PromptMeasures& m, const std::string& mode, const ContinuityScorecard& s) {
  m.add_count(mode + ".identity", s.subjects.found, s.subjects.before);
}

// Identity, and each seam's ratio to the median change.
void add_continuity(PromptMeasures& m, const std::string& mode, const ContinuityScorecard& s) {
  add_identity(m, mode, s);
  for (double r : s.seam_ratios) m.add_value(mode + ".seam", r);
}

}  // namespace

std::vector<world::Image> judge_images(const std::vector<Frame>& frames) {
  std::vector<world::Image> out;
  for (const Frame& f : frames) out.push_back(world::Image{f.width, f.height, f.rgb});
  return out;
}

bool make_mode_case(const Pipeline& pipe, const GenerateRequest& base, int new_frames, ModeCase& c) {
  const GenerateRequest resolved = pipe.resolve(base);
  c.base = base;  // each mode sets its own clip length
  c.base.width = resolved.width, c.base.height = resolved.height, c.base.fps = resolved.fps;
  c.F = resolved.frames, c.n = new_frames;
  const int w = c.base.width, h = c.base.height, fps = c.base.fps;
  world::Expansion e = world::expand(base.prompt, base.seed, {w, h, fps, c.F});  // as Pipeline::generate does
  if (!e.understood) return false;
  c.truth = e.scene;
  c.clip = render_frames(c.truth);
  c.long_clip = render_frames(world::expand(base.prompt, base.seed, {w, h, fps, 2 * c.F + c.n}).scene);
  return true;
}

void measure_image_to_video(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m) {
  GenerateRequest r = c.base;
  r.frames = c.F, r.known = {{0, c.clip[0]}};
  const GenerateResult g = pipe.generate(r);
  m.add_value("i2v.psnr", frame_psnr(c.clip[0], g.frames[0]));
  int pass = 0, total = 0;
  for (const world::Claim& cl : world::judge(judge_images(g.frames), c.truth).claims)
    if (cl.kind == "motion") pass += cl.pass, ++total;
  m.add_count("i2v.motion", pass, total);
}

void measure_extend(const Pipeline& pipe, const ModeCase& c, bool backward, PromptMeasures& m) {
  const size_t L = c.long_clip.size(), F = size_t(c.F);
  const std::vector<Frame> input = backward ? slice(c.long_clip, L - F, L) : c.clip;  // backward: a later part
  ModeResult r = extend_video(pipe, input, c.base, c.n, backward, c.mode);
  if (!backward) return add_continuity(m, "extend_forward", continuity_scorecard(r.frames, r.seams, "extend", false));
  // Backward, the input comes after the seam: read the video in reverse, so "before the seam" is
  // the input and identity asks whether its subjects are found in the invented frames.
  std::reverse(r.frames.begin(), r.frames.end());
  const int seam = int(r.frames.size()) - r.seams.at(0);
  add_continuity(m, "extend_backward", continuity_scorecard(r.frames, {seam}, "extend", false));
}

void measure_join(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m) {
  const size_t L = c.long_clip.size(), F = size_t(c.F);
  const ModeResult r = join_videos(pipe, slice(c.long_clip, 0, F), slice(c.long_clip, L - F, L), c.base, c.n, c.mode);
  add_continuity(m, "join", continuity_scorecard(r.frames, r.seams, "join", false));
}

void measure_loop(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m) {
  GenerateRequest r = c.base;
  r.frames = 1 + std::max(c.n, 8);  // a loop has two passes: at least 9 frames
  const ModeResult l = loop_video(pipe, r, c.mode);
  m.add_value("loop.closure", continuity_scorecard(l.frames, l.seams, "loop", true).loop_ratio);
}

void measure_multishot(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m) {
  Storyboard board = storyboard_from_prompt(c.base.prompt + " [shot] close-up");
  // Shots one clip each: the later shot's clip also holds the anchor in front (4 frames).
  const int S = std::max(5, c.F - 4);
  for (Shot& s : board.shots) s.seconds = double(S - 1) / c.base.fps;
  StoryboardOptions o;
  o.mode = c.mode;
  const ModeResult r = generate_storyboard(pipe, board, c.base, o);
  add_identity(m, "multishot", continuity_scorecard(r.frames, r.seams, "storyboard", false));  // cuts change everything
}

void measure_character(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m) {
  // The reference as `kinema character create` keeps it: the clip's first 1 + 4k frames (at most 5).
  const size_t R = size_t(std::min(5, 1 + 4 * ((c.F - 1) / 4)));
  GenerateRequest r = c.base;
  r.frames = c.F, r.reference = slice(c.clip, 0, R);
  const GenerateResult g = pipe.generate(r);
  std::vector<Frame> seen = r.reference;
  seen.insert(seen.end(), g.frames.begin(), g.frames.end());
  const SubjectReport s = subject_report(seen, {int(R)});
  m.add_count("character.identity", s.found, s.before);
}

}  // namespace kinema::detail
